"""JSON from the outside world, parsed so that whatever passes can be stored and shown.

Python's ``json`` accepts what PostgreSQL's ``jsonb`` refuses (NaN, Infinity, numbers such as
``1e400`` that only fit a float as infinity) and recurses once per nesting level, so a body of a
few KB of ``[`` ends in a RecursionError. ``loads`` is the one entry point for request bodies
(the API's default parser and every webhook): it refuses non-finite numbers and documents nested
deeper than MAX_JSON_DEPTH with an ``InvalidJson`` naming the field, which callers answer 400.

The depth is checked on the raw text before parsing, in one linear pass done by the regular
expression engine (no Python loop per character), so the parser never sees a deep document.
"""

from __future__ import annotations

import json
import math
import re

# Deep enough for every real payload (Alertmanager: 4 levels, PagerDuty custom_details: 12).
MAX_JSON_DEPTH = 32

# Strings (with escapes) are dropped whole: only brackets outside strings count.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


class InvalidJson(ValueError):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class _NonFinite:
    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def deeper_than(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the brackets of ``raw`` nest deeper than ``limit``.

    Linear and without a Python loop per character: strings are removed, everything but the
    brackets is deleted, and each of ``limit`` passes removes the innermost pairs; what is left
    after that was nested deeper (or is unbalanced, which the parser refuses anyway).
    """
    brackets = _STRINGS.sub(b"", raw).translate(_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return False  # unbalanced: the parser names that problem
        brackets = shorter
    return bool(brackets)


def loads(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH):
    """Parse a request body; raise InvalidJson naming the problem and, where known, the field."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # Cheap test first: a document cannot be deeper than its count of opening brackets.
    if data.count(b"[") + data.count(b"{") > max_depth and deeper_than(data, max_depth):
        raise InvalidJson("body", f"is nested deeper than {max_depth} levels")
    found: list[_NonFinite] = []

    def non_finite(text: str):
        found.append(_NonFinite(text))
        return found[-1]

    def number(text: str):
        value = float(text)
        return value if math.isfinite(value) else non_finite(text)

    try:
        value = json.loads(data, parse_constant=non_finite, parse_float=number)
    except RecursionError:  # unreachable after the depth check; kept as a guard
        raise InvalidJson("body", f"is nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise InvalidJson("body", f"is not valid JSON ({_short(exc)})") from None
    path = _non_finite_path(value) if found else None
    if path is not None:
        field, text = path
        raise InvalidJson(
            field, f"is {text}, which is not a finite number (JSON has no NaN or Infinity)"
        )
    return value


def _short(exc: ValueError) -> str:
    return str(exc).split(":")[0][:120]


def _non_finite_path(value) -> tuple[str, str] | None:
    """Where the first NaN/Infinity sits, as ``a.b[2].c``; None when there is none."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _NonFinite):
            return path or "body", item.text
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
    return None
