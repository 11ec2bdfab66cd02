"""Failure injected on purpose (game days), without monitoring importing the app that does it.

The drills app registers its hooks in its AppConfig.ready():

    register_probe_injector(fn)        # fn(outcomes) -> outcomes, before the engine records them
    register_heartbeat_drill(fn)       # fn(heartbeat_id) -> bool: is a drill silencing it?

An injected outcome carries ``drill=True``, so the incident it opens is a drill incident. With
no hook registered these functions cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable

_probe_injectors: list[Callable[[list], list]] = []
_heartbeat_drills: list[Callable[[int], bool]] = []


def register_probe_injector(injector: Callable[[list], list]) -> None:
    if injector not in _probe_injectors:
        _probe_injectors.append(injector)


def register_heartbeat_drill(check: Callable[[int], bool]) -> None:
    if check not in _heartbeat_drills:
        _heartbeat_drills.append(check)


def inject(outcomes: list) -> list:
    for injector in _probe_injectors:
        outcomes = injector(outcomes)
    return outcomes


def heartbeat_in_drill(heartbeat_id: int) -> bool:
    return any(check(heartbeat_id) for check in _heartbeat_drills)
