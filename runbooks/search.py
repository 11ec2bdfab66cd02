"""Runbooks as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.urls import reverse

from incidents.knowledge import SearchHit, rank_documents, snippet, store_search_document
from runbooks.models import Runbook, RunbookStep


def refresh_search_document(runbook_id: int) -> None:
    """Recompute the stored tsvector of one runbook (title A, body B, steps C). A no-op off
    PostgreSQL."""
    rows = Runbook.objects.filter(pk=runbook_id)
    row = rows.values("title", "body").first()
    if row is None:
        return
    steps = " ".join(
        f"{title} {body}"
        for title, body in RunbookStep.objects.filter(runbook_id=runbook_id).values_list(
            "title", "body"
        )
    )
    store_search_document(rows, {"A": row["title"], "B": row["body"], "C": steps})


def search_runbooks(user, query: str, limit: int) -> list[SearchHit]:
    runbooks = Runbook.objects.visible_to(user).filter(is_active=True)
    ranked = rank_documents(runbooks, query, limit=limit, fields=("body",), tiebreak="title")
    return [
        SearchHit(
            kind="runbook",
            title=r.title,
            url=reverse("runbooks:detail", args=[r.pk]),
            snippet=snippet(r.body),
            rank=rank,
            updated_at=r.updated_at,
        )
        for r, rank in ranked
    ]
