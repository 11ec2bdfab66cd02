"""Validation shared by the sender formats, and the normalized event they all produce.

Every parser turns a sender's JSON into one normalized dict that the processor applies:

    {"incident_key": "am:...", "title": "...", "summary": "...", "action": "alerts",
     "alerts": [{"fingerprint", "status", "severity", "summary", "labels", "annotations",
                 "details", "source_url", "starts_at", "ends_at"}]}

``action`` is "alerts" (fire/resolve individual alerts), or "acknowledge"/"resolve" (PagerDuty
events acting on the whole incident). Parsers raise PayloadError naming the offending field;
the view answers 400 with it. Nothing a sender can put in the JSON may raise anything else.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config import safejson
from config.limits import EARLIEST, LATEST, within_limits  # noqa: F401 (re-exported)

MAX_ALERTS = 1000
MAX_LABELS = 200
MAX_LABEL_KEY = 256
MAX_LABEL_VALUE = 8192
MAX_DEPTH = 12
MAX_TEXT = 1024

SEVERITY_DIGITS = frozenset("12345")  # ASCII only: str.isdigit() is true for "²" too

# What each sender calls its severities, in its own order (worst first), for the mapping table
# on the integration page; DEFAULT_SEVERITY_WORDS maps them unless the integration overrides.
SENDER_SEVERITY_WORDS = {
    "alertmanager": ("critical", "error", "warning", "info"),  # the `severity` label
    "grafana": ("critical", "error", "warning", "info"),  # the `severity` label
    "pagerduty": ("critical", "error", "warning", "info"),  # payload.severity, exactly these
    "generic": ("critical", "error", "major", "warning", "info"),  # `severity`, or 1-5
}

DEFAULT_SEVERITY_WORDS = {
    "critical": 4,
    "error": 3,
    "major": 3,
    "warning": 2,
    "info": 1,
}


class PayloadError(ValueError):
    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def json_object(body: bytes) -> dict:
    """The body as a JSON object: no NaN/Infinity, nesting bounded (config.safejson)."""
    try:
        value = safejson.loads(body)
    except safejson.InvalidJson as exc:
        raise PayloadError(exc.field, exc.problem) from None
    if not isinstance(value, dict):
        raise PayloadError("body", "must be a JSON object")
    return value


def depth_of(value, limit: int = MAX_DEPTH) -> int:
    """Nesting depth, counted iteratively (a hostile body must not exhaust the stack)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def require(obj: dict, key: str, kind: type | tuple, field: str | None = None):
    field = field or key
    if key not in obj or obj[key] is None:
        raise PayloadError(field, "is required")
    return expect(obj[key], kind, field)


def optional(obj: dict, key: str, kind: type | tuple, default, field: str | None = None):
    value = obj.get(key)
    if value is None:
        return default
    return expect(value, kind, field or key)


_TYPE_NAMES = {str: "a string", dict: "an object", list: "a list", bool: "a boolean"}


def expect(value, kind: type | tuple, field: str):
    # bool is an int in Python; JSON senders never mean a number when they send true/false.
    if isinstance(value, bool) and kind is not bool:
        raise PayloadError(field, f"must be {_TYPE_NAMES.get(kind, 'of another type')}")
    if not isinstance(value, kind):
        raise PayloadError(field, f"must be {_TYPE_NAMES.get(kind, 'of another type')}")
    return value


def string_map(value, field: str) -> dict[str, str]:
    """Labels and annotations: a flat object of strings, of bounded size."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(field, "must be an object of strings")
    if len(value) > MAX_LABELS:
        raise PayloadError(field, f"has {len(value)} entries, at most {MAX_LABELS} are accepted")
    for key, item in value.items():
        if len(key) > MAX_LABEL_KEY:
            raise PayloadError(field, f"has a key longer than {MAX_LABEL_KEY} characters")
        if not isinstance(item, str):
            raise PayloadError(f"{field}.{key[:64]}", "must be a string")
        if len(item) > MAX_LABEL_VALUE:
            raise PayloadError(f"{field}.{key[:64]}", f"is longer than {MAX_LABEL_VALUE}")
    return value


def nested_details(value, field: str) -> dict:
    if value is None:
        return {}
    if depth_of(value) > MAX_DEPTH:
        raise PayloadError(field, f"is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return value
    return {"value": value}


# Key in an alert's details holding the sender's times that were replaced by the receive time.
CLAMPED_TIMES = "clamped_times"


def timestamp(value, field: str, *, clamped: dict | None = None) -> str | None:
    """An RFC 3339 time as a UTC ISO string, None for absent or Go's zero time (still firing).

    A time that parses but cannot be stored or shown (year 9999, an offset of +16:00) is
    replaced by the receive time when ``clamped`` is given, which records the original under
    the field's name for the alert's details; without ``clamped`` it is refused (400).
    A sender's clock error must not cost the alert: Alertmanager drops a group answered 400.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError(field, "must be an RFC 3339 time string")
    try:
        parsed = parse_datetime(value)
        out_of_range = False
    except (ValueError, OverflowError):  # well-formed, but a month 13 or an offset of 25 h
        parsed, out_of_range = None, True
    if parsed is None and not out_of_range:
        raise PayloadError(field, f"is not an RFC 3339 time: {value[:40]!r}")
    if parsed is not None and parsed.year <= 1:
        return None
    bounded = within_limits(parsed) if parsed is not None else None
    if bounded is not None:
        return bounded.isoformat()
    if clamped is None:
        raise PayloadError(
            field, f"must lie in 1970-2100 with a UTC offset within +-14:00, got {value[:40]!r}"
        )
    clamped[field.rsplit(".", 1)[-1]] = value[:64]
    return timezone.now().astimezone(UTC).isoformat()


def as_datetime(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def severity_from_word(word, integration, field: str, *, strict: bool = False) -> int:
    """Map a sender's severity (word or 1-5) through the integration's overrides.

    Unknown words fall back to the integration's default unless ``strict`` (PagerDuty, whose
    API refuses them too).
    """
    if isinstance(word, int) and not isinstance(word, bool):
        if 1 <= word <= 5:
            return word
        raise PayloadError(field, "must be 1 to 5")
    if isinstance(word, str):
        text = word.strip().lower()
        if text in SEVERITY_DIGITS and not strict:
            return int(text)
        # The integration's own words first: a team may map "p1" or "sev2" (page settings).
        mapping = {**DEFAULT_SEVERITY_WORDS, **_overrides(integration)}
        if text in mapping:
            return mapping[text]
        if any(char.isnumeric() for char in text):
            # "7", "4.5", or a Unicode digit such as "²" (isdigit() is true for it, int() fails)
            raise PayloadError(field, "must be 1 to 5 or a severity word")
        if strict:
            raise PayloadError(field, "must be one of critical, error, warning, info")
        return integration.default_severity
    if word is None and not strict:
        return integration.default_severity
    raise PayloadError(field, "must be a severity word or 1 to 5")


def _overrides(integration) -> dict[str, int]:
    raw = integration.severity_mapping if isinstance(integration.severity_mapping, dict) else {}
    return {
        str(k).lower(): v
        for k, v in raw.items()
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5
    }


def text(value, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def short_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def labels_fingerprint(labels: dict[str, str]) -> str:
    return short_hash(json.dumps(labels, sort_keys=True, ensure_ascii=False))


# "routing_key": "..." in a PagerDuty body, also with the key name JSON-escaped (\u005f).
_ROUTING_KEY = re.compile(r'("routing(?:_|\\u005[fF])key"\s*:\s*)"(?:[^"\\]|\\.)*"?')
REDACTED = "[redacted]"


def redact_routing_keys(raw: str) -> str:
    """The raw body with every routing_key value replaced: the key is the integration's secret
    (it alone authenticates PagerDuty-style senders) and must not sit in stored rows."""
    return _ROUTING_KEY.sub(lambda m: f'{m.group(1)}"{REDACTED}"', raw)


def storable(value):
    """A copy PostgreSQL accepts: no NUL characters, no lone surrogates (JSON allows both)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
