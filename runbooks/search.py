"""Runbooks as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Q, TextField, Value
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from incidents.knowledge import SearchHit, simple_rank
from runbooks.models import Runbook, RunbookStep


def _snippet(text: str) -> str:
    return Truncator(strip_tags(text).replace("\n", " ")).chars(200)


def refresh_search_document(runbook_id: int) -> None:
    """Recompute the stored tsvector of one runbook (title A, body B, steps C). A no-op off
    PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector

    row = Runbook.objects.filter(pk=runbook_id).values("title", "body").first()
    if row is None:
        return
    steps = " ".join(
        f"{title} {body}"
        for title, body in RunbookStep.objects.filter(runbook_id=runbook_id).values_list(
            "title", "body"
        )
    )
    vector = (
        SearchVector(Value(row["title"], output_field=TextField()), weight="A", config="english")
        + SearchVector(Value(row["body"], output_field=TextField()), weight="B", config="english")
        + SearchVector(Value(steps, output_field=TextField()), weight="C", config="english")
    )
    Runbook.objects.filter(pk=runbook_id).update(search_document=vector)


def search_runbooks(user, query: str, limit: int) -> list[SearchHit]:
    runbooks = Runbook.objects.visible_to(user).filter(is_active=True)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank

        search = SearchQuery(query, search_type="websearch", config="english")
        rows = (
            runbooks.filter(search_document=search)
            .annotate(rank=SearchRank(F("search_document"), search))
            .order_by("-rank", "title")[:limit]
        )
        ranked = [(r, float(r.rank)) for r in rows]
    else:
        terms = query.split()
        condition = Q()
        for term in terms:
            condition &= Q(title__icontains=term) | Q(body__icontains=term)
        ranked = [
            (r, simple_rank(query, r.title, r.title, r.body))
            for r in runbooks.filter(condition)[: limit * 3]
        ]
    return [
        SearchHit(
            kind="runbook",
            title=r.title,
            url=reverse("runbooks:detail", args=[r.pk]),
            snippet=_snippet(r.body),
            rank=rank,
            updated_at=r.updated_at,
        )
        for r, rank in ranked
    ]
