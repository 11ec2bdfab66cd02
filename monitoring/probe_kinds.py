"""Probe kinds other apps add to the probe engine, without monitoring importing them.

HTTP probes are monitoring's own. An app with another kind of check (the llm app's model probes)
registers it in its AppConfig.ready():

    register_probe_kind(ProbeKind(key="model", claim_due=..., load=..., check=..., record=...))

Every scheduler tick then claims that kind's due checks (``claim_due(now, limit) -> ids``, which
must move each claimed row's due time on in the same statement, so two schedulers never claim
the same check), hands them to the probes queue, and a worker runs ``check(session, spec)``
(a coroutine, on the engine's event loop with its SSRF-guarded session) for each spec that
``load(ids)`` returned, then calls ``record(outcomes, claimed_at)`` with all outcomes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ProbeKind:
    key: str
    claim_due: Callable[[datetime, int], list[int]]
    load: Callable[[list[int]], list[Any]]
    check: Callable[[Any, Any], Awaitable[Any]]  # (aiohttp.ClientSession, spec) -> outcome
    record: Callable[[list[Any], datetime], None]


_kinds: dict[str, ProbeKind] = {}


def register_probe_kind(kind: ProbeKind) -> None:
    _kinds[kind.key] = kind


def probe_kinds() -> list[ProbeKind]:
    return list(_kinds.values())


def probe_kind(key: str) -> ProbeKind:
    return _kinds[key]
