"""The verbs of ingestion: create integrations, accept deliveries, apply them to incidents.

Accepting and applying are separate steps on purpose. ``accept_event`` stores the validated
delivery (one INSERT, committed before the sender gets its 2xx) and, in inline mode, applies it
in the same transaction; in deferred mode (the default) ``apply_pending_batch`` turns pending
events into alerts and incidents on the ingest queue. Applying is safe to run twice: events are
claimed with SKIP LOCKED and ``processed_at IS NULL`` before they are applied.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from accounts.audit import record as audit
from config.errors import InvalidInput
from incidents.actors import Actor
from incidents.ingest import coalescing
from incidents.ingest.applying import apply_normalized
from incidents.ingest.payload import redact_routing_keys, storable
from incidents.models import InboundEvent, Integration, IntegrationKind, Service
from incidents.outbox import deferred_dispatch

log = logging.getLogger(__name__)

TOKEN_BYTES = 16  # 128 bits; as 32 hex characters, also the shape of a PagerDuty routing key
PREFIX_LENGTH = 8
MAX_ATTEMPTS = coalescing.MAX_ATTEMPTS


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
) -> tuple[Integration, str]:
    """Create an integration and return it with its plaintext token, which is never stored."""
    if kind not in IntegrationKind.values:
        raise InvalidInput(f"unknown integration kind {kind!r}: use {', '.join(IntegrationKind)}")
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
            actor=actor,
            team=service.team,
            target=f"integration:{integration.pk}",
            data={"kind": kind, "service": service.slug, "name": integration.name},
        )
    return integration, token


MAX_ROTATION_GRACE = timedelta(days=7)


def rotate_integration_token(
    *, integration: Integration, actor: Actor, grace: timedelta = timedelta(hours=24)
) -> tuple[Integration, str]:
    """Give the integration a new token; the old one keeps working for ``grace`` (at most 7 days).

    Returns the integration and the new plaintext token, which is never stored. Rotating again
    within the grace period retires the older token at once: only one previous token is kept.
    """
    if not timedelta(0) <= grace <= MAX_ROTATION_GRACE:
        raise InvalidInput("the grace period must be between 0 and 7 days")
    token = secrets.token_hex(TOKEN_BYTES)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        integration.previous_token_prefix = integration.token_prefix if grace else ""
        integration.previous_token_hash = integration.token_hash if grace else ""
        integration.previous_token_expires_at = timezone.now() + grace if grace else None
        integration.token_prefix = token[:PREFIX_LENGTH]
        integration.token_hash = hash_token(token)
        integration.save(
            update_fields=[
                "token_prefix", "token_hash", "previous_token_prefix", "previous_token_hash",
                "previous_token_expires_at",
            ]
        )  # fmt: skip
        audit(
            action="integration.token_rotated",
            actor=actor,
            team=integration.service.team,
            target=f"integration:{integration.pk}",
            data={"grace_seconds": int(grace.total_seconds())},
        )
    forget_cached_integrations()
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
        prefix = token[:PREFIX_LENGTH]
        candidates = Integration.objects.select_related("service").filter(
            Q(token_prefix=prefix)
            | Q(previous_token_prefix=prefix, previous_token_expires_at__gt=timezone.now()),
            is_active=True,
        )
        for candidate in candidates:
            current = hmac.compare_digest(candidate.token_hash, digest)
            previous = bool(candidate.previous_token_hash) and hmac.compare_digest(
                candidate.previous_token_hash, digest
            )
            if current or previous:
                found = candidate
        if found is not None and ttl > 0:
            if len(_recent) >= _RECENT_MAX:
                _recent.clear()
            _recent[digest] = (now + ttl, found)
    if found is not None and kind is not None and found.kind != kind:
        return None
    return found


def hook_url(integration: Integration, token: str, *, base_url: str | None = None) -> str:
    base = (base_url or settings.BASE_URL).rstrip("/")
    if integration.kind == IntegrationKind.PAGERDUTY:
        return f"{base}/v2/enqueue"
    return f"{base}/hooks/{integration.kind}/{token}"


def _raw(body: bytes, *, kind: str) -> tuple[str, bool]:
    cap = settings.INGEST_RAW_BODY_CAP
    text = body.decode("utf-8", "replace").replace("\x00", "\ufffd")
    if kind == IntegrationKind.PAGERDUTY:
        text = redact_routing_keys(text)  # before capping: a cut value would escape the pattern
    return text[:cap], len(body) > cap


def accept_event(
    *, integration: Integration, body: bytes, normalized: dict, apply_now: bool
) -> InboundEvent:
    """Store a validated delivery; with ``apply_now`` apply it first, in the same transaction.

    Deferred, this is one INSERT in autocommit: the cheapest durable acceptance. Inline, a
    failure of the applying step (a bug, not a database outage: that aborts the whole
    transaction and the caller answers 503) rolls back to a savepoint and the event is stored
    pending for the sweep, so a delivery answered 2xx is never lost.
    """
    raw, truncated = _raw(body, kind=integration.kind)
    now = timezone.now()
    fields = {
        "integration": integration,
        "received_at": now,
        "raw_body": raw,
        "raw_truncated": truncated,
        "normalized": storable(normalized),
    }
    if not apply_now:
        return InboundEvent.objects.create(
            **fields, urgent=_first_sight(integration, fields["normalized"])
        )
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


# (integration id, incident key) -> monotonic time until which this process calls it "seen".
_seen_groups: dict[tuple[int, str], float] = {}
_SEEN_MAX = 50_000


def _first_sight(integration: Integration, normalized: dict) -> bool:
    """Whether a delivery fires a group this process has not accepted lately: then it most
    likely opens an incident, and is marked urgent so workers apply it before queued repeats.
    A guess without a query; a group seen first by another web process is urgent here once."""
    ttl = settings.INGEST_URGENT_MEMORY_SECONDS
    if normalized.get("action") != "alerts" or ttl <= 0:
        return False
    if not any(
        isinstance(a, dict) and a.get("status") == "firing" for a in normalized.get("alerts") or []
    ):
        return False
    key = (integration.pk, str(normalized.get("incident_key", "")))
    now = time.monotonic()
    seen_until = _seen_groups.get(key)
    if len(_seen_groups) >= _SEEN_MAX:
        _seen_groups.clear()
    _seen_groups[key] = now + ttl
    return seen_until is None or seen_until < now


def _is_database_outage(exc: BaseException) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def apply_pending_batch(*, limit: int | None = None) -> tuple[int, int]:
    """Claim up to ``limit`` pending events and apply them, coalesced by group.

    Returns ``(claimed, applied)``. Claiming uses SKIP LOCKED, so workers running this at once
    take disjoint events, and ``processed_at IS NULL``, so a redelivered task finds nothing;
    urgent events (likely new outages) are claimed first. See ``incidents.ingest.coalescing``
    for how a batch is applied: groups that open an incident first, in a transaction of their
    own when the batch also holds repeats, then the repeats as counters written in sets. Each
    delivery that changes something has its own savepoint; one that fails (a bug, a value the
    database refuses) is counted and retried later, up to MAX_ATTEMPTS, without holding back
    the others; then it is parked (kept with its error and raw body) and the readable part of
    it is applied.
    """
    with deferred_dispatch():  # escalations start in a worker; this loop goes on applying
        return _apply_batch(limit or settings.INGEST_APPLY_BATCH_SIZE)


def _apply_batch(limit: int) -> tuple[int, int]:
    with transaction.atomic():
        events = coalescing.claim(limit=limit)
        if not events:
            return 0, 0
        groups = coalescing.group_events(events)
        open_ids = coalescing.open_incident_ids(list(groups))
        opening = [g for key, g in groups.items() if key not in open_ids]
        later = [e.pk for key, g in groups.items() if key in open_ids for e in g.events]
        first = opening if opening and later else list(groups.values())
        outcome = coalescing.apply_groups(first, open_ids=open_ids)
        coalescing.write_outcome(outcome)
        claimed, applied = len(events), len(outcome.applied)
        if not (opening and later):
            return claimed, applied
    # The new outages are committed (their pages are on their way); now the repeats, claimed
    # again by id: a worker that took them in between has applied them.
    with transaction.atomic():
        events = coalescing.claim(limit=len(later), ids=later)
        groups = coalescing.group_events(events)
        open_ids = coalescing.open_incident_ids(list(groups))
        outcome = coalescing.apply_groups(list(groups.values()), open_ids=open_ids)
        coalescing.write_outcome(outcome)
    return claimed, applied + len(outcome.applied)


def apply_pending_events(*, max_seconds: float = 50.0) -> int:
    """Apply pending events, batch after batch, until none is left or time is up."""
    applied = 0
    started = time.monotonic()
    while time.monotonic() - started < max_seconds:
        try:
            claimed, succeeded = apply_pending_batch()
        except OperationalError as exc:
            if not isinstance(exc.__cause__, DeadlockDetected):
                raise
            # Two workers took the locks of a batch in different orders (see coalescing): this
            # batch was rolled back whole and stays pending; claim again.
            log.warning("ingest batch rolled back after a deadlock; claiming again")
            continue
        applied += succeeded
        if not claimed:
            break
    return applied


def prune_old_events(*, older_than_days: int, chunk: int = 5000) -> int:
    """Delete applied deliveries past the retention period, in chunks (safe to run twice)."""
    if older_than_days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            InboundEvent.objects.filter(processed_at__lt=cutoff).values_list("id", flat=True)[
                :chunk
            ]
        )
        if not ids:
            return deleted
        deleted += InboundEvent.objects.filter(pk__in=ids).delete()[0]
