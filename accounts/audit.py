"""Write audit-log rows for security-relevant actions (login, tokens, roles, secrets, ack/resolve)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

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
    actor=None,
    actor_label: str = "",
    team: Team | None = None,
    target: str = "",
    request: HttpRequest | None = None,
    ip: str | None = None,
    data: dict | None = None,
) -> AuditLog:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditLog.objects.create(
        action=action,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else ""),
        team=team,
        target=target[:200],
        ip_address=ip or client_ip(request),
        data=data or {},
    )
