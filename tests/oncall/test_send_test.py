"""The "send test" action on team channels and personal contact methods."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog
from oncall.models import ChannelKind
from tests.oncall.factories import ChannelFactory, ContactMethodFactory
from tests.oncall.servers import ServiceDouble

pytestmark = pytest.mark.django_db


@pytest.fixture
def double():
    server = ServiceDouble()
    yield server
    server.close()


@pytest.fixture
def api_client_for(settings):
    """A Bearer-token API client for a user (read-only tokens on request)."""
    from rest_framework.test import APIClient

    from accounts.tokens import create_token
    from incidents.actors import Actor

    settings.API_THROTTLE_RATE = ""

    def make(user, *, read_only: bool = False) -> APIClient:
        issued = create_token(
            user=user, name="test", read_only=read_only, actor=Actor.of_user(user)
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
        return client

    return make


@pytest.fixture
def discord(team, double):
    return ChannelFactory(team=team, name="ops-room", kind=ChannelKind.DISCORD,
                          target=double.url("/api/webhooks/1/tok"))  # fmt: skip


def test_manager_sends_a_test_message_and_sees_it_delivered(client, manager, discord, double):
    client.force_login(manager)
    response = client.post(f"/oncall/channels/{discord.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Test message to ops-room delivered." in response.content.decode()
    body = double.json()
    assert "TEST" in body["embeds"][0]["title"]
    assert "sent this test message" in body["embeds"][0]["description"]
    log = AuditLog.objects.get(action="oncall.test_message_sent")
    assert log.actor == manager and log.team == discord.team and log.data["ok"] is True


def test_misconfigured_channel_shows_the_services_own_error(client, manager, discord, double):
    double.reply(401, {"message": "Invalid Webhook Token", "code": 50027})
    client.force_login(manager)
    response = client.post(f"/oncall/channels/{discord.pk}/test/", {"next": "/oncall/"})
    assert response.status_code == 303 and response["Location"] == "/oncall/"
    page = client.get("/oncall/").content.decode()
    assert "Discord answered HTTP 401: Invalid Webhook Token" in page
    assert AuditLog.objects.get(action="oncall.test_message_sent").data["ok"] is False


def test_bad_url_fails_the_test_with_a_reason(client, manager, team):
    channel = ChannelFactory(team=team, kind=ChannelKind.TEAMS, target="http://10.1.2.3/hook")
    client.force_login(manager)
    response = client.post(f"/oncall/channels/{channel.pk}/test/", HTTP_HX_REQUEST="true")
    assert "failed" in response.content.decode()
    assert "refused to connect" in response.content.decode()


def test_responder_may_not_test_a_team_channel(client, responder, discord, double):
    client.force_login(responder)
    response = client.post(f"/oncall/channels/{discord.pk}/test/")
    assert response.status_code == 403 and double.requests == []


def test_another_team_gets_404(client, outsider, discord, double):
    client.force_login(outsider)
    assert client.post(f"/oncall/channels/{discord.pk}/test/").status_code == 404
    assert double.requests == []


def test_get_is_refused_and_anonymous_goes_to_login(client, manager, discord):
    assert client.post(f"/oncall/channels/{discord.pk}/test/").status_code == 302
    client.force_login(manager)
    assert client.get(f"/oncall/channels/{discord.pk}/test/").status_code == 405


def test_a_person_tests_their_own_contact_method_only(client, responder, manager, double):
    method = ContactMethodFactory(user=responder, kind=ChannelKind.NTFY, target=double.url("/me"))
    client.force_login(manager)
    assert client.post(f"/oncall/contact-methods/{method.pk}/test/").status_code == 404
    client.force_login(responder)
    response = client.post(f"/oncall/contact-methods/{method.pk}/test/", HTTP_HX_REQUEST="true")
    assert "delivered" in response.content.decode()
    assert double.requests[0]["headers"]["Priority"] == "2"


def test_the_on_call_page_offers_send_test_to_managers_only(client, manager, viewer, discord):
    client.force_login(manager)
    assert f"/oncall/channels/{discord.pk}/test/" in client.get("/oncall/").content.decode()
    client.force_login(viewer)
    html = client.get("/oncall/").content.decode()
    assert "ops-room" in html and f"/oncall/channels/{discord.pk}/test/" not in html


def test_api_send_test_answers_the_services_words(api_client_for, manager, discord, double):
    double.reply(401, {"message": "Invalid Webhook Token", "code": 50027})
    response = api_client_for(manager).post(f"/api/v1/oncall/channels/{discord.pk}/test")
    assert response.status_code == 200
    assert response.json() == {"ok": False, "status_code": 401, "retry_after": None,
                               "error": "Discord answered HTTP 401: Invalid Webhook Token"}  # fmt: skip


def test_api_send_test_refuses_responders_and_other_teams(
    api_client_for, responder, outsider, discord, double
):
    url = f"/api/v1/oncall/channels/{discord.pk}/test"
    assert api_client_for(responder).post(url).status_code == 403
    assert api_client_for(outsider).post(url).status_code == 404
    assert double.requests == []


def test_api_send_test_refuses_a_read_only_token(api_client_for, manager, discord, double):
    url = f"/api/v1/oncall/channels/{discord.pk}/test"
    assert api_client_for(manager, read_only=True).post(url).status_code == 403
    assert double.requests == []
