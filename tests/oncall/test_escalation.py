"""The escalation ladder on timers, driven by time travel (freezegun), never by sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from freezegun import freeze_time

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.outbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from oncall.escalation import fire_due_escalations
from oncall.models import EscalationState, EscalationStatus, Notification, NotificationStatus
from tests.oncall.factories import EscalationLevelFactory, EscalationPolicyFactory

pytestmark = pytest.mark.django_db

START = "2024-06-03 10:00:00+00:00"


def recipients(since=0):
    return sorted(address for message in mail.outbox[since:] for address in message.to)


def kinds(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def sweep(committed):
    return committed(fire_due_escalations)


def test_severity_3_runs_l1_action_then_pages_l2_then_l3_until_acknowledged(
    ladder, service, receiver, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        incident = open_incident(service, severity=3)

        # L1 at once: the signed automated action, nobody paged yet.
        assert len(receiver.requests) == 1
        request = receiver.requests[0]
        assert request["path"] == "/restart"
        assert verify(
            ladder.action.secret,
            request["headers"][TIMESTAMP_HEADER],
            request["body"],
            request["headers"][SIGNATURE_HEADER],
        )
        assert receiver.json(0) == {
            "action": "restart",
            "incident": incident.reference,
            "title": "Sales avatar silent",
        }
        assert mail.outbox == []
        state = EscalationState.objects.get(incident=incident)
        assert state.current_level == 1 and state.status == EscalationStatus.ACTIVE

        clock.tick(timedelta(minutes=4, seconds=59))
        assert sweep(committed) == 0
        assert mail.outbox == []

        clock.tick(timedelta(seconds=2))  # L1 timed out after 5 min: the on-call engineer
        assert sweep(committed) == 1
        assert recipients() == [ladder.engineer.email]

        clock.tick(timedelta(minutes=10))  # L2 timed out: the specialist team's responders
        assert sweep(committed) == 1
        assert recipients(1) == [ladder.specialist.email]

        committed(
            incident_services.acknowledge, incident=incident, actor=Actor.of_user(ladder.engineer)
        )
        clock.tick(timedelta(hours=2))
        assert sweep(committed) == 0
        assert len(mail.outbox) == 2  # L4 never paged

    state.refresh_from_db()
    assert state.status == EscalationStatus.STOPPED and state.next_due_at is None
    assert state.current_level == 3
    timeline = kinds(incident)
    assert timeline.count("escalation_level") == 3
    assert "automated_action" in timeline and timeline.count("notification_sent") == 2
    assert timeline[-1] == "escalation_stopped"
    action_entry = incident.timeline.get(kind="automated_action")
    assert "restart-avatar succeeded (HTTP 200)" in action_entry.message


def test_severity_5_pages_l2_and_informs_l4_at_once(ladder, service, receiver, open_incident):
    with freeze_time(START, real_asyncio=True):
        incident = open_incident(service, severity=5)
    assert receiver.requests == []  # L1 skipped
    assert recipients() == sorted([ladder.engineer.email, ladder.boss.email])
    boss_mail = next(m for m in mail.outbox if m.to == [ladder.boss.email])
    assert boss_mail.subject.startswith("[Vigil FYI]")
    purposes = dict(Notification.objects.filter(incident=incident).values_list("level", "purpose"))
    assert purposes == {2: "page", 4: "inform"}
    assert EscalationState.objects.get(incident=incident).current_level == 2


def test_severity_4_pages_l2_at_once_without_the_l1_action(
    ladder, service, receiver, open_incident
):
    open_incident(service, severity=4)
    assert receiver.requests == []
    assert recipients() == [ladder.engineer.email]


def test_severity_1_runs_l1_only_and_pages_nobody(
    ladder, service, receiver, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        incident = open_incident(service, severity=1)
        clock.tick(timedelta(hours=3))
        assert sweep(committed) == 0
    assert len(receiver.requests) == 1
    assert mail.outbox == []
    assert EscalationState.objects.get(incident=incident).status == EscalationStatus.EXHAUSTED


def test_policy_is_snapshotted_when_the_incident_opens(
    ladder, service, receiver, open_incident, committed
):
    with freeze_time(START, real_asyncio=True) as clock:
        incident = open_incident(service, severity=3)
        # Edits after opening: L2 now pages the boss with a 1-minute timeout.
        ladder.levels[2].rotation = None
        ladder.levels[2].timeout_minutes = 1
        ladder.levels[2].save()
        ladder.levels[2].users.set([ladder.boss])
        clock.tick(timedelta(minutes=5, seconds=1))
        sweep(committed)
    assert recipients() == [ladder.engineer.email]
    assert (
        EscalationState.objects.get(incident=incident).policy_snapshot["levels"]["2"]["rotation_id"]
        == ladder.rotation.pk
    )


def test_last_level_repeats_n_times_then_stops(team, service, responder, open_incident, committed):
    policy = EscalationPolicyFactory(team=team, repeat_last_level=2, is_team_default=True)
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10, users=[responder])
    with freeze_time(START) as clock:
        incident = open_incident(service, severity=4)
        for _ in range(4):
            clock.tick(timedelta(minutes=10))
            sweep(committed)
    assert recipients() == [responder.email] * 3  # first page + 2 repeats
    assert EscalationState.objects.get(incident=incident).status == EscalationStatus.EXHAUSTED


def test_team_default_policy_applies_when_the_service_has_none(
    team, service, responder, open_incident
):
    policy = EscalationPolicyFactory(team=team, is_team_default=True)
    EscalationLevelFactory(policy=policy, number=2, users=[responder])
    incident = open_incident(service, severity=4)
    assert recipients() == [responder.email]
    assert EscalationState.objects.get(incident=incident).policy == policy


def test_no_policy_is_said_on_the_timeline(service, open_incident):
    incident = open_incident(service, severity=5)
    state = EscalationState.objects.get(incident=incident)
    assert state.status == EscalationStatus.NO_POLICY
    assert "nobody is paged" in incident.timeline.get(kind="escalation_level").message


def test_resolve_cancels_queued_retries(ladder, service, receiver, open_incident, committed):
    receiver.statuses = [503]
    incident = open_incident(service, severity=3)
    action = Notification.objects.get(incident=incident, kind="action")
    assert action.status == NotificationStatus.QUEUED and action.attempts == 1
    committed(incident_services.resolve, incident=incident, actor=Actor.system("test"))
    action.refresh_from_db()
    assert action.status == NotificationStatus.CANCELLED


def test_reopen_restarts_the_ladder_at_the_severity_start(
    ladder, service, open_incident, committed
):
    incident = open_incident(service, severity=4)
    committed(incident_services.resolve, incident=incident, actor=Actor.system("test"))
    assert len(mail.outbox) == 1
    committed(incident_services.reopen, incident=incident, actor=Actor.system("test"))
    assert recipients() == [ladder.engineer.email] * 2
    state = EscalationState.objects.get(incident=incident)
    assert state.status == EscalationStatus.ACTIVE and state.series == 2


def test_severity_raise_jumps_to_l2_and_informs_l4(
    ladder, service, receiver, open_incident, committed
):
    incident = open_incident(service, severity=3)
    assert mail.outbox == []
    committed(
        incident_services.change_severity, incident=incident, severity=5, actor=Actor.system("t")
    )
    assert recipients() == sorted([ladder.engineer.email, ladder.boss.email])
    assert EscalationState.objects.get(incident=incident).current_level == 2


def test_escalate_now_moves_one_level_up(ladder, service, open_incident, committed):
    incident = open_incident(service, severity=4)
    committed(
        incident_services.request_escalation, incident=incident, actor=Actor.of_user(ladder.boss)
    )
    assert recipients(1) == [ladder.specialist.email]
    assert EscalationState.objects.get(incident=incident).current_level == 3


def test_escalate_now_after_acknowledge_pages_next_level_but_starts_no_timer(
    ladder, service, open_incident, committed
):
    incident = open_incident(service, severity=4)
    committed(incident_services.acknowledge, incident=incident, actor=Actor.system("t"))
    committed(incident_services.request_escalation, incident=incident, actor=Actor.system("t"))
    assert recipients(1) == [ladder.specialist.email]
    state = EscalationState.objects.get(incident=incident)
    assert state.next_due_at is None and state.status == EscalationStatus.STOPPED
