"""Knowledge-base search sources, registered by the apps that own the documents.

Post-mortems and runbooks live in sibling apps that never import each other, yet one search box
spans both. Each app registers a source in its AppConfig.ready():

    register_search_source("runbooks", search_runbooks)

A source is called as ``fn(user, query, limit)`` and returns ``SearchHit`` rows the user may see,
best first. Ranks come from the same ranking function (``ts_rank`` on PostgreSQL, a simple term
count elsewhere), so hits from different sources can be merged by rank.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "runbook", "post-mortem"
    title: str
    url: str
    snippet: str
    rank: float
    updated_at: datetime | None = None


_sources: dict[str, Callable[..., list[SearchHit]]] = {}


def register_search_source(name: str, fn: Callable[..., list[SearchHit]]) -> None:
    _sources[name] = fn


def search_knowledge(user, query: str, *, limit: int = 30) -> list[SearchHit]:
    query = (query or "").strip()
    if not query:
        return []
    hits: list[SearchHit] = []
    for fn in _sources.values():
        hits.extend(fn(user, query, limit))
    hits.sort(key=lambda h: (-h.rank, h.title))
    return hits[:limit]


def simple_rank(query: str, *texts: str) -> float:
    """Fallback rank where full-text search is missing (SQLite): how often the terms occur."""
    terms = [t for t in query.lower().split() if t]
    haystack = " ".join(texts).lower()
    return float(sum(haystack.count(t) for t in terms))
