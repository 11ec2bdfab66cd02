import pytest
from django.utils import timezone

from incidents.actors import Actor
from incidents.knowledge import search_knowledge
from postmortems.models import PostMortem, Status
from postmortems.search import refresh_search_document
from postmortems.services import add_why
from tests.factories import ServiceFactory, UserFactory
from tests.postmortems.factories import draft_for
from tests.runbooks.factories import make_runbook

pytestmark = pytest.mark.django_db


def published(service, user, title, summary="", **fields):
    postmortem = draft_for(service, user, title=title)
    PostMortem.objects.filter(pk=postmortem.pk).update(
        title=title, summary=summary, status=Status.PUBLISHED, published_at=timezone.now(), **fields
    )
    refresh_search_document(postmortem.pk)
    postmortem.refresh_from_db()
    return postmortem


def titles(hits):
    return [h.title for h in hits]


@pytest.mark.postgres
def test_full_text_search_ranks_the_most_relevant_document_first(team, service, responder):
    best = published(
        service,
        responder,
        "Provider rate limit exhausted the sales avatar",
        "The LLM provider rate limit was hit; every request after 10:00 got HTTP 429.",
        what_went_wrong="No alert on the rate limit headroom.",
    )
    published(
        service,
        responder,
        "Voice bot latency",
        "Latency rose after a deploy. A rate check was skipped.",
    )
    published(service, responder, "Unrelated outage", "Disk full on the vector store.")
    draft = draft_for(service, responder, title="Draft about rate limits")
    PostMortem.objects.filter(pk=draft.pk).update(summary="rate limit rate limit rate limit")
    refresh_search_document(draft.pk)
    make_runbook(
        team,
        title="Rate limit exhausted",
        body="Request a quota raise; enable the rate limit fallback.",
    )
    foreign = ServiceFactory()
    published(foreign, UserFactory(), "Rate limit at the other team", "rate limit")

    hits = search_knowledge(responder, "rate limit")
    assert titles(hits)[:2] in (
        ["Provider rate limit exhausted the sales avatar", "Rate limit exhausted"],
        ["Rate limit exhausted", "Provider rate limit exhausted the sales avatar"],
    )
    assert "Unrelated outage" not in titles(hits)
    assert all("other team" not in t for t in titles(hits))
    assert all("Draft" not in t for t in titles(hits))  # drafts are not knowledge yet
    assert hits[0].rank >= hits[-1].rank

    postmortem_hits = [h for h in hits if h.kind == "post-mortem"]
    assert postmortem_hits[0].title == best.title


@pytest.mark.postgres
def test_search_finds_words_in_the_5_why_answers_with_stemming(service, responder):
    draft = draft_for(service, responder, title="Avatar silent")
    add_why(
        postmortem=draft,
        actor=Actor.of_user(responder),
        question="Why?",
        answer="Certificates expired",
    )
    add_why(
        postmortem=draft,
        actor=Actor.of_user(responder),
        question="Why not renewed?",
        answer="No owner",
    )
    PostMortem.objects.filter(pk=draft.pk).update(
        title="Avatar silent", status=Status.PUBLISHED, published_at=timezone.now()
    )
    assert [h.title for h in search_knowledge(responder, "certificate expiring")] == [
        "Avatar silent"
    ]


def test_simple_fallback_without_postgres_still_ranks_and_filters(
    team, service, responder, monkeypatch
):
    import types

    from incidents import knowledge

    # Both sources rank through incidents.knowledge, the one full-text block.
    monkeypatch.setattr(knowledge, "connection", types.SimpleNamespace(vendor="sqlite"))
    published(service, responder, "Quota exhausted", "quota quota: the provider quota ran out")
    published(service, responder, "Slow replies", "a quota warning was ignored")
    published(service, responder, "Disk full", "nothing related")
    make_runbook(team, title="Raise the quota", body="Ask the provider.")
    hits = search_knowledge(responder, "quota")
    assert titles(hits)[0] == "Quota exhausted"
    assert set(titles(hits)) == {"Quota exhausted", "Slow replies", "Raise the quota"}
