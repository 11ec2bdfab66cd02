"""Published post-mortems as a knowledge-base search source (see incidents.knowledge)."""

from __future__ import annotations

from django.urls import reverse

from incidents.knowledge import SearchHit, rank_documents, snippet, store_search_document
from postmortems.models import ContributingFactor, PostMortem, WhyNode

_TEXT_FIELDS = ("summary", "impact", "what_went_wrong", "lessons_learned")


def refresh_search_document(postmortem_id: int) -> None:
    """Recompute the stored tsvector of one post-mortem (title A; summary and 5-Why answers B;
    the rest C). Called by every service that changes its text; a no-op off PostgreSQL."""
    rows = PostMortem.objects.filter(pk=postmortem_id)
    row = rows.values(
        "title", "summary", "impact", "what_went_well", "what_went_wrong", "lessons_learned"
    ).first()
    if row is None:
        return
    whys = list(
        WhyNode.objects.filter(postmortem_id=postmortem_id).values_list("question", "answer")
    )
    factors = ContributingFactor.objects.filter(postmortem_id=postmortem_id).values_list(
        "description", flat=True
    )
    store_search_document(
        rows,
        {
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
        },
    )


def search_postmortems(user, query: str, limit: int) -> list[SearchHit]:
    postmortems = PostMortem.objects.visible_to(user).published()
    ranked = rank_documents(
        postmortems, query, limit=limit, fields=_TEXT_FIELDS, tiebreak="-published_at"
    )
    return [
        SearchHit(
            kind="post-mortem",
            title=pm.title,
            url=reverse("postmortems:detail", args=[pm.pk]),
            snippet=snippet(pm.summary),
            rank=rank,
            updated_at=pm.published_at,
        )
        for pm, rank in ranked
    ]
