"""Silences: apps that may keep an automatic incident from opening, without the core importing them.

Where alerts and probes are about to open an incident, the caller asks ``suppressed(opening)``
first; a registered suppressor (statuspage's maintenance windows) answers True after recording
the suppression in the caller's transaction. A recovery that finds no open incident calls
``cleared(...)`` so the suppressor knows not to open it when the silence ends.

    register_suppressor(suppress_during_maintenance)
    register_clear_listener(forget_recovered)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Opening:
    service: object  # incidents.models.Service
    source: str
    dedup_key: str
    title: str
    severity: int
    summary: str = ""
    actor_label: str = ""
    # How to redo the opening later, e.g. {"integration_id": 3, "normalized": {...}}.
    replay: dict = field(default_factory=dict)


_suppressors: dict[str, Callable[[Opening], bool]] = {}
_clear_listeners: dict[str, Callable[..., None]] = {}


def register_suppressor(suppressor: Callable[[Opening], bool]) -> None:
    _suppressors[f"{suppressor.__module__}.{suppressor.__qualname__}"] = suppressor


def register_clear_listener(listener: Callable[..., None]) -> None:
    _clear_listeners[f"{listener.__module__}.{listener.__qualname__}"] = listener


def suppressed(opening: Opening) -> bool:
    """Should this automatic opening be skipped? (The suppressor has recorded it if so.)"""
    return any(suppressor(opening) for suppressor in _suppressors.values())


def cleared(*, service_id: int, dedup_key: str) -> None:
    """What opened nothing has recovered: a silenced opening need not happen later."""
    for listener in _clear_listeners.values():
        listener(service_id=service_id, dedup_key=dedup_key)
