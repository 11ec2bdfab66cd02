"""The verbs of ingestion: create integrations, accept deliveries, apply them to incidents.

Accepting and applying are separate steps on purpose. ``accept_event`` stores the validated
delivery (one INSERT, committed before the sender gets its 2xx); ``apply_pending_event`` turns it
into alerts and incidents, in the request (inline mode) or on the ingest queue (deferred mode).
Both are safe to run twice: an event is claimed by a conditional UPDATE before it is applied.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import record as audit
from incidents.actors import Actor
from incidents.ingest.applying import apply_normalized
from incidents.ingest.payload import storable
from incidents.models import InboundEvent, Integration, IntegrationKind, Service

log = logging.getLogger(__name__)

TOKEN_BYTES = 16  # 128 bits; as 32 hex characters, also the shape of a PagerDuty routing key
PREFIX_LENGTH = 8
MAX_ATTEMPTS = 5


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_integration(
    *,
    service: Service,
    kind: str,
    name: str,
    actor: Actor,
    auto_resolve: bool = True,
    hmac_secret: str = "",
    rate_limit_per_minute: int | None = None,
    severity_mapping: dict | None = None,
    request=None,
) -> tuple[Integration, str]:
    """Create an integration and return it with its plaintext token, which is never stored."""
    if kind not in IntegrationKind.values:
        raise ValueError(f"unknown integration kind {kind!r}: use {', '.join(IntegrationKind)}")
    token = secrets.token_hex(TOKEN_BYTES)
    with transaction.atomic():
        integration = Integration.objects.create(
            service=service,
            kind=kind,
            name=name[:120],
            token_prefix=token[:PREFIX_LENGTH],
            token_hash=hash_token(token),
            auto_resolve=auto_resolve,
            hmac_secret=hmac_secret,
            rate_limit_per_minute=rate_limit_per_minute,
            severity_mapping=severity_mapping or {},
        )
        audit(
            action="integration.created",
            actor=actor.user_or_none,
            actor_label=str(actor),
            team=service.team,
            target=f"integration:{integration.pk}",
            request=request,
            data={"kind": kind, "service": service.slug, "name": integration.name},
        )
    return integration, token


# Token hash -> (expiry, integration). Each web process keeps the integrations it has seen for a
# few seconds, so a delivery usually costs no lookup query; deactivating an integration takes
# effect everywhere within INGEST_INTEGRATION_CACHE_SECONDS (at once in the saving process).
_recent: dict[str, tuple[float, Integration]] = {}
_RECENT_MAX = 2048


def forget_cached_integrations() -> None:
    _recent.clear()


def integration_for_token(token: str, *, kind: str | None = None) -> Integration | None:
    """The active integration this token belongs to, or None. Constant-time comparison."""
    if not isinstance(token, str) or len(token) < PREFIX_LENGTH or len(token) > 128:
        return None
    digest = hash_token(token)
    ttl = settings.INGEST_INTEGRATION_CACHE_SECONDS
    now = time.monotonic()
    cached = _recent.get(digest) if ttl > 0 else None
    if cached is not None and cached[0] > now:
        found = cached[1]
    else:
        found = None
        candidates = Integration.objects.select_related("service").filter(
            token_prefix=token[:PREFIX_LENGTH], is_active=True
        )
        for candidate in candidates:
            if hmac.compare_digest(candidate.token_hash, digest):
                found = candidate
        if found is not None and ttl > 0:
            if len(_recent) >= _RECENT_MAX:
                _recent.clear()
            _recent[digest] = (now + ttl, found)
    if found is not None and kind is not None and found.kind != kind:
        return None
    return found


def hook_url(integration: Integration, token: str) -> str:
    if integration.kind == IntegrationKind.PAGERDUTY:
        return f"{settings.BASE_URL}/v2/enqueue"
    return f"{settings.BASE_URL}/hooks/{integration.kind}/{token}"


def _raw(body: bytes) -> tuple[str, bool]:
    cap = settings.INGEST_RAW_BODY_CAP
    truncated = len(body) > cap
    text = body[:cap].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return text, truncated


def accept_event(
    *, integration: Integration, body: bytes, normalized: dict, apply_now: bool
) -> InboundEvent:
    """Store a validated delivery; with ``apply_now`` apply it first, in the same transaction.

    Deferred, this is one INSERT in autocommit: the cheapest durable acceptance. Inline, a
    failure of the applying step (a bug, not a database outage: that aborts the whole
    transaction and the caller answers 503) rolls back to a savepoint and the event is stored
    pending for the sweep, so a delivery answered 2xx is never lost.
    """
    raw, truncated = _raw(body)
    now = timezone.now()
    fields = {
        "integration": integration,
        "received_at": now,
        "raw_body": raw,
        "raw_truncated": truncated,
        "normalized": storable(normalized),
    }
    if not apply_now:
        return InboundEvent.objects.create(**fields)
    with transaction.atomic():
        try:
            with transaction.atomic():
                incident = apply_normalized(
                    integration=integration, normalized=fields["normalized"]
                )
        except Exception as exc:
            if _is_database_outage(exc):
                raise
            log.exception("applying an inbound event failed; stored for the sweep")
            return InboundEvent.objects.create(
                **fields, error=f"{exc.__class__.__name__}: {exc}"[:2000]
            )
        return InboundEvent.objects.create(
            **fields, processed_at=now, attempts=1, incident=incident
        )


def _is_database_outage(exc: BaseException) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def apply_pending_event(*, event_id: int) -> bool:
    """Apply one pending event if nobody else has. Returns whether this call applied it."""
    with transaction.atomic():
        # Lock the event row only ("of self"): locking the joined integration row would block
        # every web request inserting an event for it (their foreign-key check shares it).
        event = (
            InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration__service")
            .filter(pk=event_id, processed_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        now = timezone.now()
        try:
            with transaction.atomic():
                incident = apply_normalized(
                    integration=event.integration, normalized=event.normalized
                )
        except Exception as exc:
            if _is_database_outage(exc):
                raise
            log.exception("applying inbound event %s failed", event.pk)
            event.attempts += 1
            event.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            fields = ["attempts", "error"]
            if event.attempts >= MAX_ATTEMPTS:
                # Give up loudly rather than retry forever; the raw body stays for a human.
                event.processed_at = now
                fields.append("processed_at")
            event.save(update_fields=fields)
            return False
        event.processed_at = now
        event.attempts += 1
        event.incident = incident
        event.save(update_fields=["processed_at", "attempts", "incident"])
        return True


def apply_pending_events(*, limit: int = 500, max_seconds: float = 50.0) -> int:
    """Apply pending events oldest first until none is left (or time is up).

    Several workers may run this at once: each event is claimed with SKIP LOCKED.
    """
    applied = 0
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        ids = list(
            InboundEvent.objects.pending()
            .filter(attempts__lt=MAX_ATTEMPTS)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            break
        progressed = 0
        for event_id in ids:
            if apply_pending_event(event_id=event_id):
                progressed += 1
        applied += progressed
        if progressed == 0:
            break  # the rest is locked by another worker or failing: leave it to them/sweep
    return applied
