"""The acknowledge link in every message: no login, GET only confirms, works once, 1 h."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AuditLog
from incidents.models import Status
from oncall.acklinks import create_ack_link
from oncall.models import AckLink
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(service):
    return IncidentFactory(service=service, severity=4)


def path_of(url: str) -> str:
    return url.removeprefix("https://vigil.example")


def test_get_confirms_without_changing_anything_and_post_acknowledges_as_the_recipient(
    client, incident, responder
):
    url = path_of(create_ack_link(incident=incident, recipient=responder))

    page = client.get(url)
    assert page.status_code == 200
    assert incident.reference in page.content.decode()
    assert b'method="post"' in page.content
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED

    done = client.post(url)
    assert done.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert incident.acknowledged_by == responder
    entry = incident.timeline.get(kind="acknowledged")
    assert entry.actor_user == responder
    audit = AuditLog.objects.get(action="incident.acknowledged")
    assert audit.actor == responder and audit.target == incident.reference


def test_link_works_once(client, incident, responder):
    url = path_of(create_ack_link(incident=incident, recipient=responder))
    assert client.post(url).status_code == 200
    again = client.post(url)
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    assert client.get(url).status_code == 410


def test_link_expires_after_an_hour(client, incident, responder):
    with freeze_time("2024-06-03 10:00:00+00:00") as clock:
        url = path_of(create_ack_link(incident=incident, recipient=responder))
        clock.tick(timedelta(minutes=59))
        assert client.get(url).status_code == 200
        clock.tick(timedelta(minutes=2))
        response = client.post(url)
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token: "x" + token,  # payload
        lambda token: "not-a-token",
    ],
)
def test_tampered_links_are_refused(client, incident, responder, tamper):
    url = create_ack_link(incident=incident, recipient=responder)
    token = url.rstrip("/").rsplit("/", 1)[1]
    response = client.post(f"/oncall/ack/{tamper(token)}/")
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_a_nonce_unknown_to_the_database_is_refused(client, incident, responder):
    url = path_of(create_ack_link(incident=incident, recipient=responder))
    AckLink.objects.all().delete()
    assert client.post(url).status_code == 400


def test_channel_link_acknowledges_as_the_integration(client, incident):
    url = path_of(create_ack_link(incident=incident, label="#ops"))
    assert client.post(url).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert "#ops" in incident.timeline.get(kind="acknowledged").actor_label


def test_link_for_an_incident_acknowledged_meanwhile_says_so(client, incident, responder):
    url = path_of(create_ack_link(incident=incident, recipient=responder))
    incident.status = Status.ACKNOWLEDGED
    incident.acknowledged_at = timezone.now()
    incident.save()
    response = client.post(url)
    assert response.status_code == 200
    assert "Nothing to acknowledge" in response.content.decode()


def test_link_in_a_real_page_acknowledges(client, ladder, service, open_incident):
    from django.core import mail

    incident = open_incident(service, severity=4)
    (message,) = mail.outbox
    link = next(word for word in message.body.split() if "/oncall/ack/" in word)
    assert client.post(path_of(link)).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    assert incident.acknowledged_by == ladder.engineer
