"""The "send test" action: one message to a channel or contact method, sent at once, so the
person configuring it sees what the service answered (its own error text when it refuses).

A test is not an incident page: no delivery row, no retry, no acknowledge link. It goes
through the same sender as real pages, so a test that arrives proves the real ones would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from accounts import audit
from incidents.actors import Actor
from oncall import channels
from oncall.models import Channel, ContactMethod


@dataclass
class TestDelivery:
    """Quacks like a Notification for the senders (kind, target, payload, source rows)."""

    kind: str
    target: str
    payload: dict
    channel: Channel | None = None
    contact_method: ContactMethod | None = None
    action: object | None = None
    extra: dict = field(default_factory=dict)


def test_payload(*, sent_by: str) -> dict:
    now = timezone.now()
    return {
        "incident": {
            "id": 0,
            "reference": "TEST",
            "title": "Test message from Vigil",
            "severity": 1,
            "severity_label": "minor impairment",
            "status": "triggered",
            "service": "Vigil",
            "service_slug": "",
            "summary": "",
            "url": f"{settings.BASE_URL}/oncall/",
            "triggered_at": now.isoformat(),
        },
        "level": 2,
        "level_name": "test message",
        "purpose": "inform",
        "what_happened": f"{sent_by} sent this test message to check the channel. "
        "Nothing is wrong.",
        "acknowledge_url": "",
        "acknowledge_expires_at": None,
    }


def send_test_message(
    *, actor: Actor, channel: Channel | None = None, contact_method: ContactMethod | None = None
) -> channels.SendResult:
    """Send one test message now and write the audit row. Exactly one of channel or
    contact_method. Never raises for the service's refusal: the result carries its words."""
    if (channel is None) == (contact_method is None):
        raise ValueError("send_test_message needs exactly one of channel or contact_method")
    source = channel or contact_method
    delivery = TestDelivery(
        kind=source.kind,
        target=source.target,
        payload=test_payload(sent_by=actor.label or "Someone"),
        channel=channel,
        contact_method=contact_method,
    )
    try:
        result = channels.send(delivery)
    except Exception as exc:  # a sender bug must show up as a failed test, not a 500
        result = channels.SendResult(False, f"{exc.__class__.__name__}: {exc}")
    if channel is not None:
        team, target = channel.team, f"channel {channel.name}"
    else:
        team, target = None, f"contact method {contact_method.pk} of {contact_method.user}"
    audit.record(
        action="oncall.test_message_sent",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=team,
        target=target,
        data={
            "kind": source.kind,
            "ok": result.ok,
            "status_code": result.status_code,
            "error": result.error[:500],
        },  # fmt: skip
    )
    return result
