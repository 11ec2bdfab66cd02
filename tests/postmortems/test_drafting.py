import threading

import pytest
from django.db import connection

from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.models import PostMortem, Status
from postmortems.services import create_draft
from tests.factories import UserFactory
from tests.postmortems.factories import resolved_incident

pytestmark = pytest.mark.django_db


def resolve_with_events(service, user, capture, severity, **kwargs):
    with capture(execute=True):
        return resolved_incident(service, user, severity=severity, **kwargs)


def test_resolving_severity_3_drafts_a_prefilled_post_mortem(
    service, responder, django_capture_on_commit_callbacks
):
    incident = resolve_with_events(
        service,
        responder,
        django_capture_on_commit_callbacks,
        3,
        data={"labels": {"alertname": "HighLatency"}},
        summary="No replies for 90 minutes",
    )
    postmortem = PostMortem.objects.get(incident=incident)
    assert postmortem.status == Status.DRAFT and postmortem.drafted_automatically
    assert postmortem.team_id == incident.team_id
    assert postmortem.title == f"{incident.reference}: Sales avatar silent"
    assert postmortem.summary == "No replies for 90 minutes"
    kinds = [e["kind"] for e in postmortem.timeline_snapshot]
    # Other apps add entries of their own (escalation levels); the lifecycle is all there.
    lifecycle = [k for k in kinds if k in ("opened", "acknowledged", "mitigated", "resolved")]
    assert lifecycle == ["opened", "acknowledged", "mitigated", "resolved"]
    recorded = incident.timeline.exclude(kind="postmortem_drafted").order_by("at", "id")
    assert kinds == [e.kind for e in recorded]
    assert postmortem.alerts_snapshot[0]["labels"] == {"alertname": "HighLatency"}
    assert list(postmortem.responders.all()) == [responder]
    assert incident.timeline.filter(kind="postmortem_drafted").count() == 1


def test_resolving_severity_2_drafts_nothing(
    service, responder, django_capture_on_commit_callbacks
):
    resolve_with_events(service, responder, django_capture_on_commit_callbacks, 2)
    assert not PostMortem.objects.exists()


def test_drills_draft_nothing_automatically(service, responder, django_capture_on_commit_callbacks):
    resolve_with_events(service, responder, django_capture_on_commit_callbacks, 5, is_drill=True)
    assert not PostMortem.objects.exists()


def test_reopen_and_resolve_again_keeps_one_post_mortem(
    service, responder, django_capture_on_commit_callbacks
):
    incident = resolve_with_events(service, responder, django_capture_on_commit_callbacks, 4)
    actor = Actor.of_user(responder)
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_services.reopen(incident=incident, actor=actor)
        incident_services.resolve(incident=incident, actor=actor)
    assert PostMortem.objects.filter(incident=incident).count() == 1


def test_manual_draft_for_low_severity_collects_every_responder(service, responder, team):
    other = UserFactory()
    incident = resolved_incident(service, responder, severity=1)
    incident_services.add_note(incident=incident, actor=Actor.of_user(other), text="looking")
    postmortem, created = create_draft(incident=incident, actor=Actor.of_user(responder))
    assert created and not postmortem.drafted_automatically
    assert set(postmortem.responders.all()) == {responder, other}
    again, created_again = create_draft(incident=incident, actor=Actor.of_user(responder))
    assert again == postmortem and not created_again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_drafts_create_one_post_mortem(service, responder):
    incident = resolved_incident(service, responder, severity=2)
    results, barrier = [], threading.Barrier(4)

    def draft():
        try:
            barrier.wait()
            results.append(create_draft(incident=incident, actor=Actor.of_user(responder)))
        finally:
            connection.close()

    threads = [threading.Thread(target=draft) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert PostMortem.objects.count() == 1
    assert sum(created for _, created in results) == 1
    assert incident.timeline.filter(kind="postmortem_drafted").count() == 1
