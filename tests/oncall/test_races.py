"""Races for real: threads on PostgreSQL, each with its own connection and transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from oncall.delivery import create_level_notifications, deliver_notification
from oncall.escalation import fire_due_step
from oncall.models import EscalationState, Notification, NotificationStatus
from tests.concurrency import run_concurrently
from tests.factories import UserFactory
from tests.oncall.factories import ChannelFactory, EscalationLevelFactory, EscalationPolicyFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_step_fired_five_times_at_once_notifies_once(team, service, responder):
    specialist = UserFactory(email="specialist@example.com")
    policy = EscalationPolicyFactory(team=team, is_team_default=True)
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10, users=[responder])
    EscalationLevelFactory(policy=policy, number=3, timeout_minutes=10, users=[specialist])
    incident, _ = incident_services.open_incident(
        service=service, title="Chat avatar down", severity=4, actor=Actor.system("test")
    )  # the after-commit event pages L2 (eager Celery sends at once)
    assert [m.to for m in mail.outbox] == [[responder.email]]
    state = EscalationState.objects.get(incident=incident)
    EscalationState.objects.filter(pk=state.pk).update(
        next_due_at=timezone.now() - timedelta(seconds=1)
    )

    fired = run_concurrently(lambda: fire_due_step(state_id=state.pk, token=state.token))

    assert sorted(fired) == [False, False, False, False, True]
    l3 = Notification.objects.filter(incident=incident, level=3)
    assert l3.count() == 1 and l3.get().status == NotificationStatus.SENT
    assert [m.to for m in mail.outbox] == [[responder.email], [specialist.email]]
    assert incident.timeline.filter(kind="escalation_level").count() == 2

    # Acknowledged: every firing, with the old or the current token, does nothing.
    old_token = state.token
    incident_services.acknowledge(incident=incident, actor=Actor.of_user(responder))
    state.refresh_from_db()
    EscalationState.objects.filter(pk=state.pk).update(
        next_due_at=timezone.now() - timedelta(seconds=1)
    )
    for token in (old_token, state.token):
        fired = run_concurrently(lambda t=token: fire_due_step(state_id=state.pk, token=t))
        assert fired == [False] * 5
    assert Notification.objects.filter(incident=incident).count() == 2
    assert len(mail.outbox) == 2


def test_one_delivery_claimed_by_five_workers_is_sent_once(team, service, receiver):
    incident, _ = incident_services.open_incident(
        service=service, title="Voice bot silent", severity=4, actor=Actor.system("test")
    )
    channel = ChannelFactory(team=team, target=receiver.url())
    ids, _ = create_level_notifications(
        incident=incident,
        level=2,
        level_spec={"channel_ids": [channel.pk]},
        cycle="race",
        purpose="page",
        reason="test",
        now=timezone.now(),
    )
    (pk,) = ids

    outcomes = run_concurrently(lambda: deliver_notification(notification_id=pk))

    assert sorted(outcomes) == ["sent", "skipped", "skipped", "skipped", "skipped"]
    assert len(receiver.requests) == 1
    row = Notification.objects.get(pk=pk)
    assert row.status == NotificationStatus.SENT and row.attempts == 1
