"""The escalation auditor repairs what nothing else would: a lost start, an overdue step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch
from oncall.auditor import audit_escalations
from oncall.models import EscalationState, EscalationStatus, Notification
from oncall.tasks import audit_escalations as audit_task

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def open_without_events(service, **kwargs):
    """Commit an incident whose events never run (a process killed right after the commit)."""
    incident, _ = incident_services.open_incident(
        service=service, title="Sales avatar silent", severity=3, actor=SYSTEM, **kwargs
    )
    EventDispatch.objects.all().delete()  # and the outbox lost too: only the auditor is left
    return incident


def test_auditor_starts_an_escalation_that_never_started_and_says_so(
    service, ladder, django_capture_on_commit_callbacks
):
    incident = open_without_events(service)
    assert not EscalationState.objects.filter(incident=incident).exists()

    with django_capture_on_commit_callbacks(execute=True):
        too_soon = audit_escalations(now=timezone.now() + timedelta(seconds=30))
    assert too_soon.started == []  # within the grace the outbox is still in charge

    with django_capture_on_commit_callbacks(execute=True):
        report = audit_escalations(now=timezone.now() + timedelta(minutes=3))

    assert report.started == [incident.pk] and report.fired == []
    state = EscalationState.objects.get(incident=incident)
    assert state.status == EscalationStatus.ACTIVE and state.current_level == 1
    [entry] = incident.timeline.filter(kind="escalation_audit")
    assert entry.actor_label == "escalation auditor"
    assert "no escalation had started" in entry.message and "starting it" in entry.message
    assert entry.data["repair"] == "started"
    assert Notification.objects.filter(incident=incident, level=1).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        again = audit_escalations(now=timezone.now() + timedelta(minutes=4))
    assert again.started == [] and again.fired == []
    assert incident.timeline.filter(kind="escalation_audit").count() == 1
    assert Notification.objects.filter(incident=incident).count() == 1


def test_auditor_fires_a_step_overdue_by_more_than_a_minute_and_says_so(
    service, ladder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident, _ = incident_services.open_incident(
            service=service, title="Sales avatar silent", severity=3, actor=SYSTEM
        )
    state = EscalationState.objects.get(incident=incident)
    assert state.current_level == 1
    now = timezone.now()

    # Due 30 s ago: the ordinary sweep's business, not yet the auditor's.
    EscalationState.objects.filter(pk=state.pk).update(next_due_at=now - timedelta(seconds=30))
    assert audit_escalations(now=now).fired == []

    EscalationState.objects.filter(pk=state.pk).update(next_due_at=now - timedelta(minutes=7))
    with django_capture_on_commit_callbacks(execute=True):
        report = audit_escalations(now=now)

    assert report.fired == [incident.pk] and report.started == []
    state.refresh_from_db()
    assert state.current_level == 2
    assert Notification.objects.filter(incident=incident, level=2).count() == 1
    [entry] = incident.timeline.filter(kind="escalation_audit")
    assert "overdue by 7 min" in entry.message and "L2 on-call engineer engaged" in entry.message
    assert entry.data["repair"] == "fired_overdue_step" and entry.data["level"] == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert audit_escalations(now=now).fired == []  # the step is no longer overdue
    assert Notification.objects.filter(incident=incident, level=2).count() == 1


def test_auditor_leaves_acknowledged_and_resolved_incidents_alone(service, ladder, responder):
    acknowledged = open_without_events(service, dedup_key="a")
    incident_services.acknowledge(incident=acknowledged, actor=Actor.of_user(responder))
    resolved = open_without_events(service, dedup_key="b")
    incident_services.resolve(incident=resolved, actor=SYSTEM)

    report = audit_escalations(now=timezone.now() + timedelta(minutes=5))

    assert report.started == [] and report.fired == []
    assert not EscalationState.objects.exists()


def test_auditor_task_reports_what_it_repaired(service, ladder):
    incident = open_without_events(service)
    from incidents.models import Incident

    Incident.objects.filter(pk=incident.pk).update(
        triggered_at=timezone.now() - timedelta(minutes=10)
    )

    assert audit_task() == {"started": [incident.pk], "fired": [], "failed": []}
    assert audit_task() == {"started": [], "fired": [], "failed": []}
