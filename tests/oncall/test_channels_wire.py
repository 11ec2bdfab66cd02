"""Each paging channel speaks its service's documented wire format, against a local server:
Teams Adaptive Card, Mattermost/Rocket.Chat Slack-compatible JSON, Discord embeds, Telegram
sendMessage, ntfy headers with priority by severity, Twilio-compatible SMS and calls; 429
answers delay the retry by what the service asked; refusals keep the service's own words."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import Status
from oncall.delivery import create_level_notifications, deliver_notification
from oncall.models import ChannelKind, Notification, NotificationStatus, validate_destination
from tests.factories import IncidentFactory, UserFactory
from tests.oncall.factories import ChannelFactory, ContactMethodFactory
from tests.oncall.servers import ServiceDouble

pytestmark = pytest.mark.django_db


@pytest.fixture
def double():
    server = ServiceDouble()
    yield server
    server.close()


@pytest.fixture
def incident(service):
    return IncidentFactory(
        service=service, severity=5, title="Voice bot <b>down</b> [x](http://evil)",
        summary="All calls fail",
    )  # fmt: skip


def page(incident, *, channels=(), users=()):
    ids, _ = create_level_notifications(
        incident=incident,
        level=2,
        level_spec={"user_ids": [u.pk for u in users], "channel_ids": [c.pk for c in channels]},
        cycle="s1r0",
        purpose="page",
        reason="severity 5",
        now=timezone.now(),
    )
    rows = list(Notification.objects.filter(pk__in=ids).order_by("pk"))
    return rows


def ack_works(client, url: str, incident) -> None:
    """The link in the message really acknowledges (one use, no login)."""
    response = client.post(urlsplit(url).path)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_teams_gets_an_adaptive_card_with_a_working_acknowledge_action(
    incident, team, double, client
):
    double.default = (202, {}, b"")  # Workflows answer 202 Accepted
    channel = ChannelFactory(team=team, kind=ChannelKind.TEAMS, target=double.url("/workflows/abc"))
    (row,) = page(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "sent"

    request = double.requests[0]
    assert request["path"] == "/workflows/abc"
    assert request["headers"]["Content-Type"] == "application/json"
    body = double.json()
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["body"][0]["type"] == "TextBlock"
    assert incident.reference in card["body"][0]["text"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Severity"] == "5 (complete outage)"
    titles = {a["title"]: a for a in card["actions"]}
    assert {a["type"] for a in card["actions"]} == {"Action.OpenUrl"}
    assert titles["Open the incident room"]["url"].endswith(f"/incidents/{incident.pk}/")
    ack_works(client, titles["Acknowledge"]["url"], incident)


def test_mattermost_gets_slack_compatible_json_with_markdown_neutralised(incident, team, double):
    channel = ChannelFactory(team=team, kind=ChannelKind.MATTERMOST, target=double.url("/hooks/x"))
    (row,) = page(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "sent"
    body = double.json()
    assert body["username"] == "Vigil"
    assert "[Acknowledge](https://vigil.example/oncall/ack/" in body["text"]
    # The title's link syntax is escaped: it cannot become a link in the room.
    assert "\\[x\\]\\(http://evil\\)" in body["text"]
    (attachment,) = body["attachments"]
    assert attachment["title_link"] == f"https://vigil.example/incidents/{incident.pk}/"
    assert attachment["color"] == "#c62828"
    assert {f["title"] for f in attachment["fields"]} == {"Service", "Severity", "Escalation"}


def test_rocketchat_success_false_is_a_failure_with_its_error(incident, team, double):
    double.reply(200, {"success": False, "error": "Invalid integration"})
    channel = ChannelFactory(team=team, kind=ChannelKind.ROCKETCHAT, target=double.url("/hooks/r"))
    (row,) = page(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "Invalid integration" in row.last_error
    assert double.json()["alias"] == "Vigil" and double.json()["attachments"]


def test_discord_gets_embeds_without_mentions_and_honours_retry_after(incident, team, double):
    double.reply(429, {"message": "You are being rate limited.", "retry_after": 42.5,
                       "global": False})  # fmt: skip
    channel = ChannelFactory(team=team, kind=ChannelKind.DISCORD,
                             target=double.url("/api/webhooks/1/tok"))  # fmt: skip
    (row,) = page(incident, channels=[channel])
    now = timezone.now()
    assert deliver_notification(notification_id=row.pk, now=now) == "retry"
    row.refresh_from_db()
    assert row.last_status_code == 429 and "You are being rate limited." in row.last_error
    # The service asked for 42.5 s: not the 30 s backoff, never sooner.
    assert row.next_attempt_at - now >= timedelta(seconds=42)
    assert row.next_attempt_at - now < timedelta(seconds=120)
    assert (
        deliver_notification(notification_id=row.pk, now=now + timedelta(seconds=31)) == "skipped"
    )
    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "sent"

    assert double.requests[0]["path"] == "/api/webhooks/1/tok?wait=true"
    body = double.json()
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["url"] == f"https://vigil.example/incidents/{incident.pk}/"
    assert embed["color"] == 0xC62828
    assert incident.reference in embed["title"]
    ack = next(f for f in embed["fields"] if f["name"] == "Acknowledge")
    assert "https://vigil.example/oncall/ack/" in ack["value"]
    assert "asked to wait 42.5 s" in incident.timeline.get(kind="notification_retry").message


def test_telegram_send_message_is_html_escaped_and_rate_limit_is_honoured(
    incident, team, double, settings
):
    settings.TELEGRAM_API_BASE = double.base
    double.reply(429, {"ok": False, "error_code": 429,
                       "description": "Too Many Requests: retry after 7",
                       "parameters": {"retry_after": 7}})  # fmt: skip
    channel = ChannelFactory(team=team, kind=ChannelKind.TELEGRAM, target="-1001234567890",
                             secret="123456:ABC-bot-token")  # fmt: skip
    (row,) = page(incident, channels=[channel])
    now = timezone.now()
    assert deliver_notification(notification_id=row.pk, now=now) == "retry"
    row.refresh_from_db()
    assert timedelta(seconds=7) <= row.next_attempt_at - now < timedelta(seconds=30)
    assert "Too Many Requests: retry after 7" in row.last_error
    assert deliver_notification(notification_id=row.pk, now=row.next_attempt_at) == "sent"

    assert double.requests[1]["path"] == "/bot123456:ABC-bot-token/sendMessage"
    body = double.json()
    assert body["chat_id"] == -1001234567890 and body["parse_mode"] == "HTML"
    assert "Voice bot &lt;b&gt;down&lt;/b&gt;" in body["text"]
    assert '<a href="https://vigil.example/oncall/ack/' in body["text"]
    assert len(body["text"]) <= 4096


def test_telegram_refusal_keeps_its_description_and_never_the_token(
    incident, team, double, settings
):
    settings.TELEGRAM_API_BASE = double.base
    double.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    channel = ChannelFactory(team=team, kind=ChannelKind.TELEGRAM, target="@vigil_oncall",
                             secret="999:SECRET")  # fmt: skip
    (row,) = page(incident, channels=[channel])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.last_error == "Telegram answered HTTP 401: Unauthorized"
    assert double.json()["chat_id"] == "@vigil_oncall"
    assert "SECRET" not in incident.timeline.get(kind="notification_failed").message


@pytest.mark.parametrize(("severity", "priority"), [(1, "2"), (3, "4"), (5, "5")])
def test_ntfy_priority_follows_severity_with_title_click_and_ack_action(
    service, double, severity, priority
):
    incident = IncidentFactory(service=service, severity=severity, title="Bot stummgeschaltet ü")
    user = UserFactory()
    method = ContactMethodFactory(user=user, kind=ChannelKind.NTFY,
                                  target=double.url("/oncall-alice"), secret="tk_abc123")  # fmt: skip
    (row,) = page(incident, users=[user])
    assert row.contact_method == method and row.kind == "ntfy"
    assert deliver_notification(notification_id=row.pk) == "sent"

    request = double.requests[0]
    headers = request["headers"]
    assert request["path"] == "/oncall-alice"
    assert headers["Priority"] == priority
    assert headers["Authorization"] == "Bearer tk_abc123"
    assert headers["Click"] == f"https://vigil.example/incidents/{incident.pk}/"
    # Non-ASCII titles travel RFC 2047-encoded, which ntfy decodes.
    encoded = headers["Title"]
    assert encoded.startswith("=?UTF-8?B?")
    assert "stummgeschaltet ü" in base64.b64decode(encoded[10:-2]).decode()
    assert headers["Actions"].startswith("view, Acknowledge, https://vigil.example/oncall/ack/")
    assert headers["Actions"].split(", ")[-1] == f"https://vigil.example/incidents/{incident.pk}/"
    assert f"sev{severity}" in headers["Tags"]
    assert request["body"].decode().startswith(f"{incident.reference}: Bot stummgeschaltet ü")


def test_ntfy_429_with_retry_after_header_and_basic_auth(incident, double):
    double.reply(429, {"code": 42901, "http": 429, "error": "limit reached: too many requests"},
                 headers={"retry-after": "90"})  # fmt: skip
    user = UserFactory()
    ContactMethodFactory(user=user, kind=ChannelKind.NTFY, target=double.url("/t"),
                         secret="alice:pa:ss")  # fmt: skip
    (row,) = page(incident, users=[user])
    now = timezone.now()
    assert deliver_notification(notification_id=row.pk, now=now) == "retry"
    row.refresh_from_db()
    assert timedelta(seconds=90) <= row.next_attempt_at - now < timedelta(seconds=150)
    assert "limit reached: too many requests" in row.last_error
    auth = double.requests[0]["headers"]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "alice:pa:ss"


@pytest.fixture
def twilio(double, settings):
    settings.TWILIO_API_BASE = double.base
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "twilio-token"
    settings.TWILIO_FROM_NUMBER = "+4930123456"
    double.default = (201, {"Content-Type": "application/json"},
                      b'{"sid": "SM123", "status": "queued"}')  # fmt: skip
    return double


def test_sms_is_a_form_post_with_basic_auth_and_the_ack_link(incident, twilio):
    user = UserFactory()
    ContactMethodFactory(user=user, kind=ChannelKind.SMS, target="+4917612345678")
    (row,) = page(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "sent"
    request = twilio.requests[0]
    assert request["path"] == "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    auth = base64.b64decode(request["headers"]["Authorization"].removeprefix("Basic ")).decode()
    assert auth == "AC0123456789abcdef:twilio-token"
    form = twilio.form()
    assert form["To"] == "+4917612345678" and form["From"] == "+4930123456"
    assert incident.reference in form["Body"]
    assert "Ack: https://vigil.example/oncall/ack/" in form["Body"]
    row.refresh_from_db()
    assert row.last_status_code == 201


def test_voice_call_carries_twiml_that_speaks_the_incident(incident, twilio):
    user = UserFactory()
    ContactMethodFactory(user=user, kind=ChannelKind.VOICE, target="+4917612345678")
    (row,) = page(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "sent"
    assert twilio.requests[0]["path"].endswith("/Calls.json")
    twiml = ET.fromstring(twilio.form()["Twiml"])
    assert twiml.tag == "Response"
    said = twiml.find("Say").text
    assert "severity 5" in said and "<b>down</b>" in said  # escaped in XML, spoken as text


def test_twilio_refusal_keeps_its_message_and_code(incident, twilio):
    twilio.reply(400, {"code": 21211, "message": "The 'To' number +49176 is not a valid phone "
                       "number.", "more_info": "https://www.twilio.com/docs/errors/21211",
                       "status": 400})  # fmt: skip
    user = UserFactory()
    ContactMethodFactory(user=user, kind=ChannelKind.SMS, target="+4917612345678")
    (row,) = page(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "is not a valid phone number. (error 21211)" in row.last_error


def test_sms_without_twilio_settings_fails_at_once_saying_what_is_missing(incident, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    user = UserFactory()
    ContactMethodFactory(user=user, kind=ChannelKind.SMS, target="+4917612345678")
    (row,) = page(incident, users=[user])
    assert deliver_notification(notification_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "TWILIO_ACCOUNT_SID" in row.last_error and row.attempts == 1


def test_a_redelivered_task_sends_a_chat_message_once(incident, team, double):
    channel = ChannelFactory(team=team, kind=ChannelKind.DISCORD, target=double.url("/w"))
    (row,) = page(incident, channels=[channel])
    assert page(incident, channels=[channel]) == []  # same idempotency key: no second row
    assert deliver_notification(notification_id=row.pk) == "sent"
    assert deliver_notification(notification_id=row.pk) == "skipped"
    assert len(double.requests) == 1
    row.refresh_from_db()
    assert row.status == NotificationStatus.SENT


@pytest.mark.parametrize(
    ("kind", "target"),
    [("sms", "0176 1234"), ("voice", "+0123"), ("telegram", "chat me"), ("teams", "ftp://x/"),
     ("ntfy", "not a url"), ("email", "nobody")],
)  # fmt: skip
def test_bad_destinations_are_refused_with_a_reason(kind, target):
    with pytest.raises(ValidationError):
        validate_destination(kind, target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [("sms", "+4917612345678"), ("telegram", "-1001234567890"), ("telegram", "@vigil_bot"),
     ("discord", "https://discord.com/api/webhooks/1/x"), ("email", "a@example.com")],
)  # fmt: skip
def test_good_destinations_pass(kind, target):
    validate_destination(kind, target)
