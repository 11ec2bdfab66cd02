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

from django.db import connection


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


# --- the full-text block every source shares ------------------------------------------------


def snippet(text: str) -> str:
    """A hit's excerpt: plain text, one line, at most 200 characters."""
    from django.utils.html import strip_tags
    from django.utils.text import Truncator

    return Truncator(strip_tags(text or "").replace("\n", " ")).chars(200)


def store_search_document(queryset, weighted: dict[str, str]) -> None:
    """Store a tsvector in ``search_document`` of the rows of ``queryset`` (one document):
    ``weighted`` maps a weight (A best ... D) to its text. A no-op off PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector
    from django.db.models import TextField, Value

    vector = None
    for weight, text in weighted.items():
        part = SearchVector(Value(text, output_field=TextField()), weight=weight, config="english")
        vector = part if vector is None else vector + part
    queryset.update(search_document=vector)


def rank_documents(
    queryset, query: str, *, limit: int, fields: tuple[str, ...], tiebreak: str
) -> list[tuple[object, float]]:
    """The rows of ``queryset`` matching ``query``, best first, with their rank.

    PostgreSQL: websearch syntax against the stored ``search_document`` (``ts_rank``, then
    ``tiebreak``). Elsewhere: every term in the title or one of ``fields`` (icontains), ranked
    by ``simple_rank`` over the title twice and the fields."""
    from django.db.models import F, Q

    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank

        search = SearchQuery(query, search_type="websearch", config="english")
        rows = (
            queryset.filter(search_document=search)
            .annotate(rank=SearchRank(F("search_document"), search))
            .order_by("-rank", tiebreak)[:limit]
        )
        return [(row, float(row.rank)) for row in rows]
    condition = Q()
    for term in query.split():
        term_q = Q(title__icontains=term)
        for name in fields:
            term_q |= Q(**{f"{name}__icontains": term})
        condition &= term_q
    return [
        (row, simple_rank(query, row.title, row.title, *(getattr(row, f) for f in fields)))
        for row in queryset.filter(condition)[: limit * 3]
    ]
