"""Published post-mortems as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Q, TextField, Value
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from incidents.knowledge import SearchHit, simple_rank
from postmortems.models import ContributingFactor, PostMortem, WhyNode

_TEXT_FIELDS = ("summary", "impact", "what_went_wrong", "lessons_learned")


def refresh_search_document(postmortem_id: int) -> None:
    """Recompute the stored tsvector of one post-mortem (title A; summary and 5-Why answers B;
    the rest C). Called by every service that changes its text; a no-op off PostgreSQL."""
    if connection.vendor != "postgresql":
        return
    from django.contrib.postgres.search import SearchVector

    row = (
        PostMortem.objects.filter(pk=postmortem_id)
        .values(
            "title", "summary", "impact", "what_went_well", "what_went_wrong", "lessons_learned"
        )
        .first()
    )
    if row is None:
        return
    whys = list(
        WhyNode.objects.filter(postmortem_id=postmortem_id).values_list("question", "answer")
    )
    factors = ContributingFactor.objects.filter(postmortem_id=postmortem_id).values_list(
        "description", flat=True
    )
    weighted = {
        "A": row["title"],
        "B": " ".join([row["summary"], *(answer for _, answer in whys)]),
        "C": " ".join(
            [
                row["impact"],
                row["what_went_well"],
                row["what_went_wrong"],
                row["lessons_learned"],
                *(question for question, _ in whys),
                *factors,
            ]
        ),
    }
    vector = None
    for weight, text in weighted.items():
        part = SearchVector(Value(text, output_field=TextField()), weight=weight, config="english")
        vector = part if vector is None else vector + part
    PostMortem.objects.filter(pk=postmortem_id).update(search_document=vector)


def search_postmortems(user, query: str, limit: int) -> list[SearchHit]:
    postmortems = PostMortem.objects.visible_to(user).published()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank

        search = SearchQuery(query, search_type="websearch", config="english")
        rows = (
            postmortems.filter(search_document=search)
            .annotate(rank=SearchRank(F("search_document"), search))
            .order_by("-rank", "-published_at")[:limit]
        )
        ranked = [(pm, float(pm.rank)) for pm in rows]
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
