"""Subscribers: double opt-in, one-click unsubscribe, signed links and webhooks, and each
update delivered once through oncall's delivery rows, also under concurrent workers."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from incidents.actors import Actor
from oncall.delivery import deliver_notification, requeue_due_notifications
from oncall.models import Notification, NotificationStatus
from statuspage.models import Subscriber, SubscriberKind
from statuspage.services import subscribers, updates
from tests.statuspage.factories import SubscriberFactory

SYSTEM = Actor.system("test")


def _links(body: str) -> list[str]:
    return [w for w in body.split() if w.startswith("https://vigil.example/status/")]


def _post(page, incident, body="We are looking into it.", status="investigating"):
    return updates.post_update(page=page, incident=incident, status=status, body=body, actor=SYSTEM)


@pytest.mark.django_db
def test_email_subscription_needs_confirmation_through_a_post(
    page, component, service, open_incident, committed, client
):
    response = committed(client.post, "/status/acme/subscribe/", {"email": "Reader@Example.org"})
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()
    assert (subscriber.target, subscriber.confirmed_at) == ("reader@example.org", None)
    (confirmation,) = mail.outbox
    (link,) = _links(confirmation.body)
    path = link.removeprefix("https://vigil.example")
    incident = open_incident(service, severity=2)
    committed(_post, page, incident)
    assert len(mail.outbox) == 1  # nothing before confirming
    assert client.get(path).status_code == 200  # a mail scanner following the link...
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None  # ...confirms nothing
    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    committed(_post, page, incident, body="Found the cause.", status="identified")
    assert [m.to for m in mail.outbox[1:]] == [["reader@example.org"]]
    assert "Found the cause." in mail.outbox[1].body


@pytest.mark.django_db
def test_tampered_or_foreign_links_are_404(page, client):
    subscriber = SubscriberFactory(page=page, confirmed_at=None)
    token = subscribers.confirm_token(subscriber)
    assert client.post(f"/status/acme/subscribe/confirm/{token}x/").status_code == 404
    other = SubscriberFactory(confirmed_at=None)
    assert client.post(f"/status/{other.page.slug}/subscribe/confirm/{token}/").status_code == 404
    assert client.post(f"/status/acme/unsubscribe/{token}/").status_code == 404  # wrong salt


@pytest.mark.django_db
def test_expired_confirmation_link_is_refused(page, client, settings):
    subscriber = SubscriberFactory(page=page, confirmed_at=None)
    token = subscribers.confirm_token(subscriber)
    settings.STATUSPAGE_LINK_MAX_AGE = -1
    response = client.post(f"/status/acme/subscribe/confirm/{token}/")
    assert response.status_code == 409 and "expired" in response.content.decode()


@pytest.mark.django_db
def test_invalid_addresses_are_refused(page, client):
    for bad in ("not-an-address", "a@b", "x" * 300 + "@example.org", "a\x00@example.org"):
        response = client.post("/status/acme/subscribe/", {"email": bad})
        assert response.status_code == 400, bad
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
def test_unsubscribe_is_one_click_and_stops_deliveries(
    page, component, service, open_incident, committed, client
):
    subscriber = SubscriberFactory(page=page)
    incident = open_incident(service, severity=2)
    committed(_post, page, incident)
    (message,) = mail.outbox
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (link,) = [w for w in _links(message.body) if "/unsubscribe/" in w]
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    path = link.removeprefix("https://vigil.example")
    assert client.get(path).status_code == 200
    assert Subscriber.objects.get().unsubscribed_at is None
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(path).status_code == 200  # twice is harmless
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    committed(_post, page, incident, body="Second words.", status="identified")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_webhook_subscriber_receives_signed_json(
    page, component, service, open_incident, committed, receiver, manager, client
):
    client.force_login(manager)
    response = client.post(
        "/api/v1/status-subscribers/",
        {"page": page.pk, "kind": "webhook", "target": receiver.url("/status")},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    incident = open_incident(service, severity=2)
    update = committed(_post, page, incident, body="Chat is slow.")
    (request,) = receiver.requests
    body = receiver.json()
    assert body["event"] == "status.update"
    assert body["update"] == {"id": update.pk, "status": "investigating", "body": "Chat is slow.",
                              "translations": {},
                              "created_at": update.posted_at.isoformat()}  # fmt: skip
    assert body["language"] == "en"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    expected = hmac.new(secret.encode(), headers["x-vigil-timestamp"].encode() + b"." + request["body"],
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["x-vigil-signature"] == f"sha256={expected}"
    row = Notification.objects.get(purpose="status")
    assert row.status == NotificationStatus.SENT
    assert not incident.timeline.filter(kind="notification_sent").exists()


@pytest.mark.django_db
def test_webhook_urls_to_private_addresses_are_refused(page, manager, client, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    client.force_login(manager)
    for url in ("http://127.0.0.1:8000/x", "http://[::1]/x", "http://169.254.169.254/latest",
                "http://10.0.0.5/hook", "ftp://example.org/x", "http://localhost/x"):  # fmt: skip
        response = client.post(
            "/api/v1/status-subscribers/",
            {"page": page.pk, "kind": "webhook", "target": url},
            content_type="application/json",
        )
        assert response.status_code == 400, url
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
def test_subscriber_over_its_hourly_limit_waits_for_the_next_hour(
    page, component, service, open_incident, committed, settings
):
    settings.STATUSPAGE_SUBSCRIBER_MAX_PER_HOUR = 2
    SubscriberFactory(page=page)
    incident = open_incident(service, severity=2)
    for n in range(3):
        committed(_post, page, incident, body=f"update {n}")
    assert len(mail.outbox) == 2
    deferred = Notification.objects.get(purpose="status", status=NotificationStatus.QUEUED)
    assert deferred.next_attempt_at > timezone.now() + timedelta(minutes=59)
    with freeze_time(deferred.next_attempt_at + timedelta(seconds=1)):
        requeue_due_notifications()
    assert len(mail.outbox) == 3 and "update 2" in mail.outbox[2].body


@pytest.mark.django_db
def test_posting_again_queues_nothing_twice(page, component, service, open_incident, committed):
    SubscriberFactory(page=page)
    incident = open_incident(service, severity=2)
    update = committed(_post, page, incident)
    from statuspage.models import PublicIncident

    public = PublicIncident.objects.get(incident=incident)
    assert committed(subscribers.queue_deliveries, update=update, public_incident=public) == []
    assert Notification.objects.filter(purpose="status").count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_each_subscriber_gets_each_update_once_under_concurrent_workers(
    page, component, service, receiver, monkeypatch
):
    # Rows are queued but not handed to a worker: our racing threads are the workers.
    monkeypatch.setattr(subscribers, "enqueue_deliveries", lambda ids: None)
    SubscriberFactory(page=page, kind=SubscriberKind.WEBHOOK, target=receiver.url("/a"))
    SubscriberFactory(page=page, kind=SubscriberKind.WEBHOOK, target=receiver.url("/b"))
    SubscriberFactory(page=page)
    from incidents import services as incident_services

    incident, _ = incident_services.open_incident(
        service=service, title="Chat down", severity=2, actor=SYSTEM
    )
    update = _post(page, incident)
    rows = list(Notification.objects.filter(purpose="status").values_list("pk", flat=True))
    assert len(rows) == 3

    barrier = threading.Barrier(4)
    errors = []

    def worker():
        try:
            barrier.wait()
            for pk in rows:
                deliver_notification(notification_id=pk)
            # a re-dispatched event re-queues the same update
            from statuspage.models import PublicIncident

            subscribers.queue_deliveries(
                update=update, public_incident=PublicIncident.objects.get(incident=incident)
            )
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(r["path"] for r in receiver.requests) == ["/a", "/b"]
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(purpose="status").count() == 3
    assert set(Notification.objects.filter(purpose="status").values_list("status", flat=True)) == {
        "sent"
    }
