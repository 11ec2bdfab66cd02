"""Short facts other apps add to the services overview, without the core importing them.

An app registers a function in its AppConfig.ready()::

    register_service_facts(monitor_facts)

It is called once per page with the ids of the services shown and returns
``{service_id: ["2 probes up", "1 heartbeat down"]}``; it should cost a constant number of
queries, whatever the number of services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

ServiceFacts = Callable[[list[int]], dict[int, list[str]]]
_sources: dict[str, ServiceFacts] = {}


def register_service_facts(source: ServiceFacts) -> None:
    _sources[f"{source.__module__}.{source.__qualname__}"] = source


def facts_for(service_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(service_ids)
    merged: dict[int, list[str]] = {pk: [] for pk in ids}
    if not ids:
        return merged
    for _, source in sorted(_sources.items()):
        for service_id, facts in source(ids).items():
            merged.setdefault(service_id, []).extend(facts)
    return merged
