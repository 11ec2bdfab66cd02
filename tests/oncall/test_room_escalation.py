"""Issue 17's room actions against the escalation engine: a merged duplicate's escalation stops
exactly once; a snooze that runs out re-triggers the incident and restarts its escalation.
Time travels with freezegun; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from freezegun import freeze_time

from incidents import merging, outbox, snooze
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch, IncidentSnooze, Status
from oncall import receivers
from oncall.escalation import fire_due_escalations
from oncall.models import EscalationState, EscalationStatus, Notification

pytestmark = pytest.mark.django_db

START = "2024-06-03 10:00:00+00:00"


def entries(incident, kind):
    return incident.timeline.filter(kind=kind).count()


def test_merge_stops_the_duplicates_escalation_exactly_once(
    ladder, service, receiver, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        keep = open_incident(service, severity=3, title="keep", dedup_key="keep")
        duplicate = open_incident(service, severity=3, title="dup", dedup_key="dup")
        clock.tick(timedelta(minutes=5, seconds=1))  # both reach L2: the engineer is paged
        assert committed(fire_due_escalations) == 2
        assert len(mail.outbox) == 2

        committed(
            merging.merge_incidents,
            target=keep,
            source=duplicate,
            actor=Actor.of_user(ladder.engineer),
        )
        state = EscalationState.objects.get(incident=duplicate)
        assert state.status == EscalationStatus.STOPPED and state.next_due_at is None
        assert entries(duplicate, "escalation_stopped") == 1
        stopped = duplicate.timeline.get(kind="escalation_stopped")
        assert f"merged into {keep.reference}" in stopped.message

        # The event delivered again (sweep after a lost acknowledgement, a second worker):
        # nothing more happens.
        receivers.on_merged(None, incident_id=duplicate.pk, into_id=keep.pk)
        rows = EventDispatch.objects.filter(
            event="incident_merged", receiver="oncall.receivers.on_merged"
        )
        assert rows.count() == 1 and rows.get().dispatched_at is not None
        EventDispatch.objects.filter(pk=rows.get().pk).update(dispatched_at=None)
        committed(outbox.dispatch_rows, [rows.get().pk])
        assert entries(duplicate, "escalation_stopped") == 1

        # Hours later the duplicate pages nobody; the kept incident escalates on.
        clock.tick(timedelta(hours=3))
        committed(fire_due_escalations)
        assert not Notification.objects.filter(
            incident=duplicate, created_at__gt=stopped.at
        ).exists()
        assert EscalationState.objects.get(incident=keep).current_level > 2
    keep.refresh_from_db()
    assert keep.status == Status.TRIGGERED
    # The duplicate's history, escalation entries included, is readable in the kept room.
    assert keep.timeline.filter(
        kind="merged_entry", data__original_kind="escalation_level"
    ).exists()


def test_snooze_expiry_retriggers_and_restarts_escalation(
    ladder, service, receiver, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        incident = open_incident(service, severity=3)
        assert [r["path"] for r in receiver.requests] == ["/restart"]  # L1 action
        engineer = Actor.of_user(ladder.engineer)
        committed(incident_services.acknowledge, incident=incident, actor=engineer)
        first_ack = incident.timeline.get(kind="acknowledged").at
        committed(snooze.snooze_incident, incident=incident, minutes=30, actor=engineer)
        state = EscalationState.objects.get(incident=incident)
        assert state.status == EscalationStatus.STOPPED

        clock.tick(timedelta(minutes=29, seconds=59))
        assert committed(snooze.wake_due_snoozes) == 0
        incident.refresh_from_db()
        assert incident.status == Status.ACKNOWLEDGED

        clock.tick(timedelta(seconds=2))
        assert committed(snooze.wake_due_snoozes) == 1
        incident.refresh_from_db()
        assert incident.status == Status.TRIGGERED
        assert incident.timeline.filter(kind="snooze_expired").count() == 1
        state.refresh_from_db()
        assert state.status == EscalationStatus.ACTIVE and state.series == 2
        assert state.current_level == 1
        # The ladder starts again: the L1 action runs again, L2 pages after its timeout.
        assert [r["path"] for r in receiver.requests] == ["/restart", "/restart"]

        # A second sweep, or the event dispatched again, changes nothing.
        assert committed(snooze.wake_due_snoozes) == 0
        receivers.on_snooze_expired(
            None,
            incident_id=incident.pk,
            entry_id=incident.timeline.get(kind="snooze_expired").pk,
        )
        state.refresh_from_db()
        assert state.series == 2 and len(receiver.requests) == 2

        clock.tick(timedelta(minutes=5, seconds=1))
        assert committed(fire_due_escalations) == 1
        assert [m.to for m in mail.outbox] == [[ladder.engineer.email]]

        # Acknowledged again: the first acknowledgement stands for MTTA.
        clock.tick(timedelta(minutes=1))
        committed(incident_services.acknowledge, incident=incident, actor=engineer)
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED and incident.acknowledged_at == first_ack
    state.refresh_from_db()
    assert state.status == EscalationStatus.STOPPED


def test_snooze_of_an_incident_resolved_meanwhile_wakes_nothing(
    ladder, service, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        incident = open_incident(service, severity=3)
        engineer = Actor.of_user(ladder.engineer)
        committed(incident_services.acknowledge, incident=incident, actor=engineer)
        committed(snooze.snooze_incident, incident=incident, minutes=60, actor=engineer)
        clock.tick(timedelta(minutes=5))
        committed(incident_services.resolve, incident=incident, actor=engineer)
        clock.tick(timedelta(minutes=5))
        committed(incident_services.reopen, incident=incident, actor=engineer)
        clock.tick(timedelta(minutes=1))
        committed(incident_services.acknowledge, incident=incident, actor=engineer)
        clock.tick(timedelta(hours=2))
        # The old snooze belonged to the first acknowledgement: it is cleared, not obeyed.
        assert committed(snooze.wake_due_snoozes) == 0
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert IncidentSnooze.objects.get(incident=incident).until is None
    assert not incident.timeline.filter(kind="snooze_expired").exists()
