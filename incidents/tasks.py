"""Thin Celery tasks of the incidents app (routed to the ``ingest`` queue). Safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task
def apply_inbound_events() -> int:
    """Apply pending deliveries; published (coalesced) after each accepted delivery."""
    from incidents.ingest.kick import scan_started
    from incidents.ingest.services import apply_pending_events

    scan_started()
    return apply_pending_events()


@shared_task
def sweep_inbound_events() -> int:
    """Apply every accepted delivery that is still pending (broker was down, worker crashed),
    and delete applied deliveries older than INGEST_EVENT_RETENTION_DAYS (not while the backlog
    is over its bound: retention waits, applying does not).

    Two beats running this at once is harmless: each event is claimed with SKIP LOCKED and a
    conditional check on ``processed_at`` before it is applied.
    """
    from django.conf import settings

    from incidents import backpressure
    from incidents.ingest.services import apply_pending_events, prune_old_events

    applied = apply_pending_events()
    if not backpressure.defer("delivery retention"):
        prune_old_events(older_than_days=settings.INGEST_EVENT_RETENTION_DAYS)
    return applied


@shared_task
def redispatch_events() -> int:
    """Every few seconds (beat): dispatch domain events whose receiver did not finish.

    Safe on several workers and beats at once: each outbox row is claimed with SKIP LOCKED
    and marked dispatched in the receiver's own transaction.
    """
    from incidents.outbox import redispatch_due

    return redispatch_due()


@shared_task
def prune_dispatched_events() -> int:
    """Hourly: delete outbox rows dispatched more than EVENTS_RETENTION_DAYS ago."""
    from django.conf import settings

    from incidents import backpressure
    from incidents.outbox import prune_dispatched

    if backpressure.defer("outbox retention"):
        return 0

    return prune_dispatched(older_than_days=settings.EVENTS_RETENTION_DAYS)
