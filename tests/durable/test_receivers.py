"""The oncall receivers stay correct when an event arrives twice, or late after later events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import oncall.escalation
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch
from incidents.outbox import redispatch_due
from oncall import receivers
from oncall.models import EscalationState, EscalationStatus, Notification

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def runner(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return runner


def opened(run, service, severity=3):
    incident, _ = run(
        incident_services.open_incident,
        service=service,
        title="Sales avatar silent",
        severity=severity,
        actor=SYSTEM,
    )
    return incident


def sweep_later():
    return redispatch_due(now=timezone.now() + timedelta(hours=1))


def test_a_late_acknowledge_event_after_a_reopen_does_not_stop_the_new_escalation(
    service, ladder, responder, run, inject_failures
):
    incident = opened(run, service)
    inject_failures(oncall.escalation, "stop_escalation", times=1)
    incident = run(incident_services.acknowledge, incident=incident, actor=Actor.of_user(responder))
    incident = run(incident_services.resolve, incident=incident, actor=SYSTEM)
    incident = run(incident_services.reopen, incident=incident, actor=SYSTEM, reason="again")
    state = EscalationState.objects.get(incident=incident)
    assert state.status == EscalationStatus.ACTIVE and state.series == 2

    run(sweep_later)  # the acknowledge event, failed at first, arrives now

    state.refresh_from_db()
    assert state.status == EscalationStatus.ACTIVE and state.series == 2
    reopened = incident.timeline.get(kind="reopened")
    assert not incident.timeline.filter(kind="escalation_stopped", pk__gt=reopened.pk).exists()
    assert not EventDispatch.objects.filter(dispatched_at=None).exists()  # consumed, no effect


def test_a_reopen_event_dispatched_twice_restarts_the_escalation_once(service, ladder, run):
    incident = opened(run, service)
    incident = run(incident_services.resolve, incident=incident, actor=SYSTEM)
    incident = run(incident_services.reopen, incident=incident, actor=SYSTEM)
    entry = incident.timeline.get(kind="reopened")
    pages = Notification.objects.filter(incident=incident).count()

    run(receivers.on_reopened, sender=None, incident_id=incident.pk, entry_id=entry.pk)

    state = EscalationState.objects.get(incident=incident)
    assert state.series == 2
    assert Notification.objects.filter(incident=incident).count() == pages


def test_an_escalate_now_event_dispatched_twice_engages_one_level(service, ladder, responder, run):
    incident = opened(run, service)
    run(incident_services.request_escalation, incident=incident, actor=Actor.of_user(responder))
    entry = incident.timeline.get(kind="escalation_requested")
    state = EscalationState.objects.get(incident=incident)
    assert state.current_level == 2

    run(receivers.on_escalation_requested, sender=None, incident_id=incident.pk, entry_id=entry.pk)

    state.refresh_from_db()
    assert state.current_level == 2
    assert incident.timeline.filter(kind="escalation_level").count() == 2


def test_a_late_severity_raise_after_lowering_it_again_pages_nobody_higher(
    service, ladder, run, inject_failures
):
    incident = opened(run, service, severity=2)
    level_before = EscalationState.objects.get(incident=incident).current_level
    inject_failures(oncall.escalation, "raise_severity", times=1)
    incident = run(incident_services.change_severity, incident=incident, severity=5, actor=SYSTEM)
    incident = run(incident_services.change_severity, incident=incident, severity=2, actor=SYSTEM)

    run(sweep_later)

    state = EscalationState.objects.get(incident=incident)
    assert state.current_level == level_before
    assert state.series == 1
