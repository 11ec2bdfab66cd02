"""Domain events survive a failing receiver: the outbox row stays, the sweep dispatches it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import oncall.escalation
import postmortems.services
import runbooks.services
from config import health
from incidents import events
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch
from incidents.outbox import prune_dispatched, receiver_name, redispatch_due
from oncall.models import EscalationState, Notification
from postmortems.models import PostMortem
from runbooks.models import RunbookRun
from tests.postmortems.factories import resolved_incident
from tests.runbooks.factories import make_runbook

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def open_with_events(capture, service, **kwargs):
    kwargs.setdefault("title", "Sales avatar silent")
    kwargs.setdefault("severity", 3)
    with capture(execute=True):
        incident, created = incident_services.open_incident(service=service, actor=SYSTEM, **kwargs)
    assert created
    return incident


def sweep_later(seconds: float = 3600) -> int:
    """The beat sweep as it runs once the backoff of every failed row has passed."""
    return redispatch_due(now=timezone.now() + timedelta(seconds=seconds))


def rows(receiver: str) -> list[EventDispatch]:
    return list(EventDispatch.objects.filter(receiver=receiver).order_by("pk"))


def test_every_receiver_of_an_event_gets_an_outbox_row_marked_dispatched_after_commit(
    service, django_capture_on_commit_callbacks
):
    incident = open_with_events(django_capture_on_commit_callbacks, service)

    opened = incident.timeline.get(kind="opened")
    dispatches = EventDispatch.objects.filter(entry=opened)
    # One row per connected receiver (escalation and runbooks among them; status pages and
    # drills subscribe too), each dispatched once.
    names = set(dispatches.values_list("receiver", flat=True))
    assert {"oncall.receivers.on_opened", "runbooks.apps._attach_on_open"} <= names
    assert len(names) == dispatches.count() == len(events.incident_opened.receivers)
    assert all(d.dispatched_at is not None and d.attempts == 1 for d in dispatches)
    assert {d.details["incident_id"] for d in dispatches} == {incident.pk}
    assert sweep_later() == 0  # nothing left for the sweep


def test_an_event_nobody_listens_to_writes_no_outbox_row(
    service, responder, django_capture_on_commit_callbacks
):
    incident = open_with_events(django_capture_on_commit_callbacks, service)
    before = EventDispatch.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        incident_services.assign(incident=incident, assignee=responder, actor=SYSTEM)
    assert EventDispatch.objects.count() == before


def test_a_rolled_back_change_leaves_no_event(service):
    with pytest.raises(RuntimeError):
        from django.db import transaction

        with transaction.atomic():
            incident_services.open_incident(
                service=service, title="Never committed", severity=3, actor=SYSTEM
            )
            raise RuntimeError("the caller failed after the service")
    assert not EventDispatch.objects.exists()


def test_escalation_receiver_failing_once_pages_exactly_once_after_the_sweep(
    service, ladder, receiver, inject_failures, django_capture_on_commit_callbacks
):
    flaky = inject_failures(oncall.escalation, "start_escalation", times=1)

    incident = open_with_events(django_capture_on_commit_callbacks, service, severity=3)

    # The failure rolled back: no escalation yet, the row waits with its error and a backoff.
    assert not EscalationState.objects.filter(incident=incident).exists()
    [row] = rows("oncall.receivers.on_opened")
    assert row.dispatched_at is None and row.attempts == 1
    assert "OperationalError: injected failure 1 of 1" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert redispatch_due() == 0  # not before its backoff

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_later() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_later() == 0  # a second sweep finds it done

    assert flaky.calls == 2
    state = EscalationState.objects.get(incident=incident)
    assert state.current_level == 1
    assert incident.timeline.filter(kind="escalation_level").count() == 1
    pages = Notification.objects.filter(incident=incident)
    assert pages.count() == 1
    assert [r["path"] for r in receiver.requests] == ["/restart"]  # the L1 action, once
    row.refresh_from_db()
    assert row.dispatched_at is not None and row.attempts == 2


def test_runbook_attach_failing_once_attaches_exactly_once_after_the_sweep(
    team, service, inject_failures, django_capture_on_commit_callbacks
):
    make_runbook(team, title="Restart the avatar", services=[service])
    inject_failures(runbooks.services, "attach_matching_runbooks", times=1)

    incident = open_with_events(django_capture_on_commit_callbacks, service)
    assert not RunbookRun.objects.filter(incident=incident).exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_later() == 1
        assert sweep_later() == 0

    assert RunbookRun.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind="runbook_attached").count() == 1


def test_post_mortem_draft_failing_once_drafts_exactly_once_after_the_sweep(
    service, responder, inject_failures, django_capture_on_commit_callbacks
):
    inject_failures(postmortems.services, "draft_on_resolve", times=1)
    with django_capture_on_commit_callbacks(execute=True):
        incident = resolved_incident(service, responder, severity=4)
    assert not PostMortem.objects.filter(incident=incident).exists()
    [row] = rows("postmortems.apps._draft_on_resolve")
    assert row.attempts == 1 and row.dispatched_at is None

    with django_capture_on_commit_callbacks(execute=True):
        sweep_later()
        sweep_later()

    assert PostMortem.objects.filter(incident=incident).count() == 1
    row.refresh_from_db()
    assert row.dispatched_at is not None


def always_fails(sender, **kwargs):
    raise RuntimeError("the reporting backend is down")


@pytest.fixture
def broken_receiver():
    events.incident_opened.connect(always_fails, dispatch_uid="test-always-fails")
    yield receiver_name(always_fails)
    events.incident_opened.disconnect(dispatch_uid="test-always-fails")


def test_a_receiver_that_keeps_failing_backs_off_without_blocking_the_others(
    service, ladder, broken_receiver, django_capture_on_commit_callbacks
):
    first = open_with_events(django_capture_on_commit_callbacks, service, title="First")
    assert EscalationState.objects.filter(incident=first).exists()  # the others went on

    delays = []
    now = timezone.now()
    for _ in range(4):
        [row] = rows(broken_receiver)
        now = row.next_attempt_at + timedelta(seconds=1)
        redispatch_due(now=now)
        row.refresh_from_db()
        delays.append(round((row.next_attempt_at - row.last_failed_at).total_seconds()))
    assert delays == [10, 20, 40, 80]  # 5 s after the first failure, then doubling
    assert row.attempts == 5 and row.dispatched_at is None

    # A second incident opens and escalates while the broken receiver is still failing.
    second = open_with_events(django_capture_on_commit_callbacks, service, title="Second")
    assert EscalationState.objects.filter(incident=second).exists()
    assert len(rows(broken_receiver)) == 2
    assert not EventDispatch.objects.filter(
        dispatched_at=None, receiver="oncall.receivers.on_opened"
    ).exists()


def test_a_failing_receiver_shows_on_readyz_as_degraded_and_on_metrics(
    client, service, broken_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    open_with_events(django_capture_on_commit_callbacks, service)
    monkeypatch.setattr(health, "_checks", {"event_dispatch": health.check_event_dispatch})

    fresh = client.get("/readyz")
    assert fresh.status_code == 200 and fresh.json()["status"] == "ok"  # not stuck yet

    EventDispatch.objects.filter(receiver=broken_receiver).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200  # ingestion must go on: reported, not taken out
    assert body["status"] == "degraded"
    problem = body["checks"]["event_dispatch"]
    assert broken_receiver in problem
    assert "1 failing" in problem and "the reporting backend is down" in problem

    metrics = client.get("/metrics").content.decode()
    assert f'vigil_event_dispatch_pending{{receiver="{broken_receiver}"}} 1.0' in metrics
    assert f'vigil_event_dispatch_failing{{receiver="{broken_receiver}"}} 1.0' in metrics
    assert f'vigil_event_dispatch_failures_total{{receiver="{broken_receiver}"}} 1.0' in metrics
    assert 'vigil_event_dispatch_pending{receiver="oncall.receivers.on_opened"}' not in metrics


def test_rows_of_a_receiver_no_longer_connected_stay_pending_and_reported(
    service, django_capture_on_commit_callbacks
):
    events.incident_opened.connect(always_fails, dispatch_uid="test-gone")
    try:
        open_with_events(django_capture_on_commit_callbacks, service)
    finally:
        events.incident_opened.disconnect(dispatch_uid="test-gone")

    sweep_later()

    [row] = rows(receiver_name(always_fails))
    assert row.dispatched_at is None and row.attempts == 2
    assert "is connected to incident_opened" in row.last_error


def test_dispatched_rows_are_pruned_after_the_retention_and_the_timeline_stays(
    service, broken_receiver, django_capture_on_commit_callbacks
):
    incident = open_with_events(django_capture_on_commit_callbacks, service)
    entries = incident.timeline.count()

    dispatched = EventDispatch.objects.filter(dispatched_at__isnull=False).count()
    assert dispatched >= 2
    assert prune_dispatched(older_than_days=7) == 0
    deleted = prune_dispatched(older_than_days=7, now=timezone.now() + timedelta(days=8))

    assert deleted == dispatched  # every dispatched row; the failing one is kept
    assert list(EventDispatch.objects.values_list("receiver", flat=True)) == [broken_receiver]
    assert incident.timeline.count() == entries
    assert prune_dispatched(older_than_days=0, now=timezone.now() + timedelta(days=80)) == 0


def test_admin_lists_the_outbox_and_retries_a_failing_row_at_the_next_sweep(
    admin_client, service, broken_receiver, django_capture_on_commit_callbacks
):
    open_with_events(django_capture_on_commit_callbacks, service)
    [row] = rows(broken_receiver)
    assert row.next_attempt_at > timezone.now()

    page = admin_client.get("/admin/incidents/eventdispatch/?dispatched_at__isempty=1")
    assert page.status_code == 200 and broken_receiver in page.content.decode()
    response = admin_client.post(
        "/admin/incidents/eventdispatch/",
        {"action": "retry_now", "_selected_action": [row.pk]},
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.next_attempt_at <= timezone.now()
