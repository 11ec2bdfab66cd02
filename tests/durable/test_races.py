"""Sweeps racing for real: threads on PostgreSQL, each with its own connection and transaction."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

import oncall.escalation
from incidents import events
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch
from incidents.outbox import receiver_name, redispatch_due
from oncall.auditor import audit_escalations
from oncall.models import EscalationState, Notification
from tests.concurrency import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


calls: list[int] = []


def slow_counting_receiver(sender, incident_id, **kwargs):
    """Holds its row a while, so the other sweeps really meet it locked."""
    calls.append(incident_id)
    time.sleep(0.2)


def test_four_concurrent_sweeps_dispatch_each_event_once(service, ladder, inject_failures):
    calls.clear()
    events.incident_opened.connect(slow_counting_receiver, dispatch_uid="test-slow")
    try:
        inject_failures(oncall.escalation, "start_escalation", times=1)
        calls_before = len(calls)
        incident, _ = incident_services.open_incident(
            service=service, title="Chat avatar down", severity=3, actor=Actor.system("test")
        )  # committed: the request's dispatch ran; the escalation receiver failed once
        assert len(calls) == calls_before + 1
        assert not EscalationState.objects.filter(incident=incident).exists()
        EventDispatch.objects.filter(receiver=receiver_name(slow_counting_receiver)).update(
            dispatched_at=None
        )  # as if the process had died before its commit

        later = timezone.now() + timedelta(hours=1)
        ran = run_concurrently(lambda: redispatch_due(now=later), times=4)
    finally:
        events.incident_opened.disconnect(dispatch_uid="test-slow")

    assert sum(ran) == 2  # two rows, each run by exactly one of the four sweeps
    assert len(calls) == 2
    assert EscalationState.objects.filter(incident=incident).count() == 1
    assert Notification.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind="escalation_level").count() == 1
    assert not EventDispatch.objects.filter(dispatched_at=None).exists()


def test_two_auditors_at_once_repair_a_never_started_escalation_once(service, ladder):
    incident, _ = incident_services.open_incident(
        service=service, title="Chat avatar down", severity=3, actor=Actor.system("test")
    )
    EscalationState.objects.filter(incident=incident).delete()  # as if the event were lost
    Notification.objects.filter(incident=incident).delete()

    later = timezone.now() + timedelta(minutes=5)
    reports = run_concurrently(lambda: audit_escalations(now=later), times=4)

    assert sorted(len(r.started) for r in reports) == [0, 0, 0, 1]
    assert EscalationState.objects.filter(incident=incident).count() == 1
    assert incident.timeline.filter(kind="escalation_audit").count() == 1
