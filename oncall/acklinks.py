"""Signed, expiring, single-use acknowledge links that work without logging in.

The URL carries ``signing.dumps({"n": nonce})``: the signature refuses tampering, the
timestamp inside refuses links older than ONCALL_ACK_LINK_MAX_AGE, and the nonce names an
AckLink row whose ``used_at`` is claimed by a conditional UPDATE, so the link works once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.errors import DomainError
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.errors import InvalidTransition
from oncall.models import AckLink

SALT = "oncall.ack-link"


class AckLinkError(DomainError):
    """The link cannot acknowledge anything; ``status`` is the HTTP status to answer with
    (400 not valid, 410 expired or used)."""

    code = "ack_link"

    def __init__(self, message: str, status: int):
        super().__init__(message, status=status)


def create_ack_link(*, incident, recipient=None, label: str = "", now: datetime | None = None):
    """Store a nonce and return the absolute URL of its signed link."""
    now = now or timezone.now()
    nonce = secrets.token_urlsafe(24)
    AckLink.objects.create(
        nonce=nonce,
        incident=incident,
        recipient=recipient,
        label=label[:200],
        expires_at=now + timedelta(seconds=settings.ONCALL_ACK_LINK_MAX_AGE),
    )
    token = signing.dumps({"n": nonce}, salt=SALT, compress=False)
    return settings.BASE_URL + reverse("oncall:ack", args=[token])


def resolve_ack_link(token: str, *, now: datetime | None = None) -> AckLink:
    """The unused, unexpired AckLink behind ``token``, or AckLinkError saying why not."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.ONCALL_ACK_LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise AckLinkError("This acknowledge link has expired.", 410) from None
    except signing.BadSignature:
        raise AckLinkError("This acknowledge link is not valid.", 400) from None
    nonce = data.get("n") if isinstance(data, dict) else None
    link = (
        AckLink.objects.select_related("incident", "incident__service", "recipient")
        .filter(nonce=nonce)
        .first()
    )
    if link is None:
        raise AckLinkError("This acknowledge link is not valid.", 400)
    if link.used_at is not None:
        raise AckLinkError("This acknowledge link has already been used.", 410)
    if link.expires_at <= now:
        raise AckLinkError("This acknowledge link has expired.", 410)
    return link


@dataclass(frozen=True)
class AckOutcome:
    incident: object
    acknowledged: bool
    message: str


def acknowledge_by_link(
    *, token: str, ip: str | None = None, now: datetime | None = None
) -> AckOutcome:
    """Use the link once. The first caller claims it; a second use, even concurrent, is refused.

    The actor is the link's recipient (or the channel it was sent to), seen at ``ip``; the
    acknowledgement is audited by the incident core as ``incident.acknowledged``, exactly like
    one from the board or the API."""
    now = now or timezone.now()
    link = resolve_ack_link(token, now=now)
    with transaction.atomic():
        claimed = AckLink.objects.filter(
            pk=link.pk, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
        if not claimed:
            raise AckLinkError("This acknowledge link has already been used.", 410)
        if link.recipient is not None:
            actor = Actor.of_user(link.recipient, ip=ip)
        else:
            actor = Actor.integration(f"acknowledge link ({link.label or 'channel'})", ip=ip)
        try:
            incident = incident_services.acknowledge(incident=link.incident, actor=actor)
        except InvalidTransition as exc:
            # Someone else got there first: the link is spent all the same, nothing to undo.
            return AckOutcome(link.incident, False, str(exc))
    return AckOutcome(incident, True, f"{incident.reference} acknowledged by {actor}.")
