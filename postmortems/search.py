"""Published post-mortems as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from incidents.knowledge import SearchHit, simple_rank
from postmortems.models import PostMortem

_TEXT_FIELDS = ("summary", "impact", "what_went_wrong", "lessons_learned")


def search_postmortems(user, query: str, limit: int) -> list[SearchHit]:
    postmortems = PostMortem.objects.visible_to(user).published()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        vector = (
            SearchVector("title", weight="A", config="english")
            + SearchVector("summary", "whys__answer", weight="B", config="english")
            + SearchVector(*_TEXT_FIELDS[1:], "whys__question", weight="C", config="english")
        )
        search = SearchQuery(query, search_type="websearch", config="english")
        rows = (
            postmortems.annotate(document=vector, rank=SearchRank(vector, search))
            .filter(document=search)
            .order_by("-rank", "-published_at")
        )
        # A post-mortem with several why nodes appears once per node: keep the best row.
        ranked, seen = [], set()
        for pm in rows[: limit * 5]:
            if pm.pk not in seen:
                seen.add(pm.pk)
                ranked.append((pm, float(pm.rank)))
        ranked = ranked[:limit]
    else:
        condition = Q()
        for term in query.split():
            term_q = Q(title__icontains=term)
            for name in _TEXT_FIELDS:
                term_q |= Q(**{f"{name}__icontains": term})
            condition &= term_q
        ranked = [
            (pm, simple_rank(query, pm.title, pm.title, *(getattr(pm, f) for f in _TEXT_FIELDS)))
            for pm in postmortems.filter(condition)[: limit * 3]
        ]
    return [
        SearchHit(
            kind="post-mortem",
            title=pm.title,
            url=reverse("postmortems:detail", args=[pm.pk]),
            snippet=Truncator(strip_tags(pm.summary).replace("\n", " ")).chars(200),
            rank=rank,
            updated_at=pm.published_at,
        )
        for pm, rank in ranked
    ]
