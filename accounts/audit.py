"""Write audit-log rows for security-relevant actions (login, tokens, roles, secrets, ack/resolve).

Services write them, in the transaction of the act they record; views never do."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

from accounts.actors import Actor
from accounts.models import AuditLog, Team


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address; X-Forwarded-For is believed only from a trusted proxy."""
    if request is None:
        return None
    peer = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer and forwarded and settings.TRUSTED_PROXIES:
        try:
            peer_ip = ipaddress.ip_address(peer)
        except ValueError:
            return None
        if any(peer_ip in net for net in settings.TRUSTED_PROXIES):
            # The rightmost address not belonging to a trusted proxy is the client.
            for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
                try:
                    hop_ip = ipaddress.ip_address(hop)
                except ValueError:
                    return None
                if not any(hop_ip in net for net in settings.TRUSTED_PROXIES):
                    return str(hop_ip)
    return peer


def record(
    *,
    action: str,
    actor: Actor | None = None,
    actor_label: str = "",
    team: Team | int | None = None,
    target: str = "",
    request: HttpRequest | None = None,
    ip: str | None = None,
    data: dict | None = None,
) -> AuditLog:
    """One audit row. Services call it inside their transaction with the act's ``Actor``
    (user, label and client address come from it); ``action`` names the act in the past tense,
    the same whatever the origin: ``incident.acknowledged`` from the board, the API or a link.

    Django's login signals pass a ``User`` and the request instead of an Actor."""
    if isinstance(actor, Actor):
        actor_label = actor_label or actor.label
        ip = ip or actor.ip
        if actor.token:
            data = {**(data or {}), "token": actor.token}
        actor = actor.user_or_none
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        action=action,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else ""),
        team_id=team.pk if isinstance(team, Team) else team,
        target=target[:200],
        ip_address=ip or client_ip(request),
        data=data or {},
    )
