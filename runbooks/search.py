"""Runbooks as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from incidents.knowledge import SearchHit, simple_rank
from runbooks.models import Runbook


def _snippet(text: str) -> str:
    return Truncator(strip_tags(text).replace("\n", " ")).chars(200)


def search_runbooks(user, query: str, limit: int) -> list[SearchHit]:
    runbooks = Runbook.objects.visible_to(user).filter(is_active=True)
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "body", weight="B", config="english"
        )
        search = SearchQuery(query, search_type="websearch", config="english")
        rows = (
            runbooks.annotate(document=vector)
            .filter(document=search)
            .annotate(rank=SearchRank(vector, search))
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
