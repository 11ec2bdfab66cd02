"""Deliveries: signed webhooks, Slack, real SMTP, retries with backoff, claims and leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.outbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from oncall.delivery import (
    create_level_notifications,
    deliver_notification,
    requeue_due_notifications,
)
from oncall.models import ChannelKind, Notification, NotificationStatus
from tests.factories import IncidentFactory, UserFactory
from tests.oncall.factories import ChannelFactory, ContactMethodFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(
        service=service, severity=4, title="Voice bot 502", summary="All calls fail"
    )


def notify(incident, *, channels=(), users=(), now=None):
    """Create the rows of one L2 page and return them (not sent yet)."""
    ids, _ = create_level_notifications(
        incident=incident,
        level=2,
        level_spec={"user_ids": [u.pk for u in users], "channel_ids": [c.pk for c in channels]},
        cycle="s1r0",
        purpose="page",
        reason="severity 4",
        now=now or timezone.now(),
    )
    return list(Notification.objects.filter(pk__in=ids).order_by("pk"))


def test_webhook_is_signed_and_carries_everything_a_responder_needs(incident, team, receiver):
    channel = ChannelFactory(team=team, target=receiver.url())
    (row,) = notify(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "sent"

    request = receiver.requests[0]
    headers = request["headers"]
    assert verify(
        channel.secret, headers[TIMESTAMP_HEADER], request["body"], headers[SIGNATURE_HEADER]
    )
    assert not verify(
        "wrong-secret", headers[TIMESTAMP_HEADER], request["body"], headers[SIGNATURE_HEADER]
    )
    body = receiver.json()
    assert body["event"] == "incident.page"
    assert body["incident"]["reference"] == incident.reference
    assert body["incident"]["title"] == "Voice bot 502"
    assert body["incident"]["severity"] == 4
    assert body["incident"]["severity_label"] == "major feature down"
    assert body["incident"]["service"] == incident.service.name
    assert body["incident"]["url"] == f"https://vigil.example/incidents/{incident.pk}/"
    assert "All calls fail" in body["what_happened"]
    assert body["acknowledge_url"].startswith("https://vigil.example/oncall/ack/")
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.attempts == 1 and row.sent_at
    assert incident.timeline.filter(kind="notification_sent").count() == 1


def test_receiver_failing_twice_gets_exactly_one_success_in_three_attempts(
    incident, team, receiver
):
    receiver.statuses = [500, 500, 200]
    channel = ChannelFactory(team=team, target=receiver.url())
    (row,) = notify(incident, channels=[channel])
    now = timezone.now()

    assert deliver_notification(notification_id=row.pk, now=now) == "retry"
    row.refresh_from_db()
    assert row.status == NotificationStatus.QUEUED and row.last_status_code == 500
    first_wait = row.next_attempt_at - now
    # Not due yet: a sweep or a duplicate task before the backoff ends sends nothing.
    assert deliver_notification(notification_id=row.pk, now=now + timedelta(seconds=5)) == "skipped"

    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "retry"
    previous = row.next_attempt_at
    row.refresh_from_db()
    assert row.next_attempt_at - previous >= 2 * first_wait - timedelta(seconds=1)  # doubles

    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "sent"
    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "skipped"
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.attempts == 3
    assert len(receiver.requests) == 3
    kinds = list(incident.timeline.order_by("id").values_list("kind", flat=True))
    assert kinds == ["notification_retry", "notification_retry", "notification_sent"]


def test_a_400_is_permanent_and_not_retried(incident, team, receiver):
    receiver.statuses = [400]
    channel = ChannelFactory(team=team, target=receiver.url())
    (row,) = notify(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.attempts == 1
    assert row.last_error == "HTTP 400" and row.next_attempt_at is None
    requeue_due_notifications(now=timezone.now() + timedelta(days=1))
    assert len(receiver.requests) == 1
    entry = incident.timeline.get(kind="notification_failed")
    assert "not retryable" in entry.message and "HTTP 400" in entry.message


def test_gives_up_after_the_attempt_limit(incident, team, receiver, settings):
    settings.ONCALL_DELIVERY_MAX_ATTEMPTS = 2
    receiver.statuses = [503, 503, 503]
    (row,) = notify(incident, channels=[ChannelFactory(team=team, target=receiver.url())])
    assert deliver_notification(notification_id=row.pk) == "retry"
    row.refresh_from_db()
    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "failed"
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.attempts == 2
    assert "gave up after 2" in incident.timeline.get(kind="notification_failed").message


def test_ssrf_guard_refuses_loopback_without_the_allow_list(incident, team, receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    (row,) = notify(incident, channels=[ChannelFactory(team=team, target=receiver.url())])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "refused to connect" in row.last_error
    assert receiver.requests == []


def test_slack_message_names_the_incident_and_links_the_room(incident, team, receiver):
    channel = ChannelFactory(team=team, kind=ChannelKind.SLACK, target=receiver.url(), secret="")
    incident.title = "<!channel> broken & down"
    incident.save()
    (row,) = notify(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "sent"
    text = receiver.json()["text"]
    assert incident.reference in text and "major feature down" in text
    assert "&lt;!channel&gt; broken &amp; down" in text  # no mention injection
    assert f"<https://vigil.example/incidents/{incident.pk}/|Open the incident room>" in text
    assert "|Acknowledge>" in text
    assert SIGNATURE_HEADER not in receiver.requests[0]["headers"]


def test_email_to_a_user_without_contact_methods_uses_the_account_address(incident):
    user = UserFactory(email="alice@example.com")
    (row,) = notify(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "sent"
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert (
        message.subject == f"[Vigil] {incident.reference} sev 4 (major feature down): Voice bot 502"
    )
    assert f"https://vigil.example/incidents/{incident.pk}/" in message.body
    assert "https://vigil.example/oncall/ack/" in message.body


def test_contact_methods_replace_the_account_address(incident, receiver):
    user = UserFactory(email="bob@example.com")
    ContactMethodFactory(user=user, kind=ChannelKind.EMAIL, target="bob-pager@example.com")
    ContactMethodFactory(
        user=user, kind=ChannelKind.WEBHOOK, target=receiver.url(), secret="s" * 32
    )
    rows = notify(incident, users=[user])
    assert [r.kind for r in rows] == ["email", "webhook"]
    for row in rows:
        assert deliver_notification(notification_id=row.pk) == "sent"
    assert mail.outbox[0].to == ["bob-pager@example.com"]
    assert len(receiver.requests) == 1


def test_real_smtp_delivery(incident, smtp_server, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    user = UserFactory(email="oncall@example.com")
    (row,) = notify(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "sent"
    (envelope,) = smtp_server.collected
    assert envelope.rcpt_tos == ["oncall@example.com"]
    content = envelope.content.decode()
    assert f"Subject: [Vigil] {incident.reference} sev 4" in content
    assert "https://vigil.example/oncall/ack/" in content


def test_smtp_server_down_is_retried(incident, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # discard port: nothing listens
    (row,) = notify(incident, users=[UserFactory()])
    assert deliver_notification(notification_id=row.pk) == "retry"


def test_the_same_level_twice_creates_no_second_row(incident, team):
    user = UserFactory()
    first = notify(incident, users=[user])
    second = notify(incident, users=[user])
    assert len(first) == 1 and second == []
    assert Notification.objects.filter(incident=incident).count() == 1


def test_a_worker_lost_mid_send_is_retried_after_its_lease(incident, team, receiver):
    (row,) = notify(incident, channels=[ChannelFactory(team=team, target=receiver.url())])
    claimed = timezone.now() - timedelta(seconds=200)
    # A worker claimed the row 200 s ago and died before recording anything.
    Notification.objects.filter(pk=row.pk).update(
        status=NotificationStatus.SENDING,
        claimed_at=claimed,
        lease_until=claimed + timedelta(seconds=120),
        attempts=1,
    )
    assert requeue_due_notifications(now=claimed + timedelta(seconds=60)) == []
    assert receiver.requests == []
    assert requeue_due_notifications() == [row.pk]  # lease expired; eager Celery sends it
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT and row.attempts == 2
    assert len(receiver.requests) == 1
