"""Thin Celery tasks of the incidents app (routed to the ``ingest`` queue). Safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task
def apply_inbound_events() -> int:
    """Apply pending deliveries; published (coalesced) after each accepted delivery."""
    from django.conf import settings

    from incidents.ingest.kick import request_processing, scan_started
    from incidents.ingest.services import apply_pending_events
    from incidents.models import InboundEvent

    scan_started()
    # A short turn, then ask again if work is left: during a storm the worker process also
    # owes the pages (notify queue) that the incidents it opened have queued behind it.
    applied = apply_pending_events(max_seconds=settings.INGEST_TASK_SECONDS)
    if InboundEvent.objects.pending().exists():
        request_processing()
    return applied


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
def dispatch_events(ids: list[int]) -> int:
    """Dispatch outbox rows recorded inside ``outbox.deferred_dispatch`` (published on the
    notify queue: they start escalations). A row already dispatched is skipped."""
    from incidents.outbox import dispatch_rows

    return dispatch_rows(ids)


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


@shared_task
def wake_snoozed_incidents() -> int:
    """Every few seconds (beat): re-trigger acknowledged incidents whose snooze ran out.

    Safe to run twice or on several beats: each wake-up is claimed under the incident's row
    lock by clearing the snooze's due time (incidents.snooze.wake_incident).
    """
    from incidents.snooze import wake_due_snoozes

    return wake_due_snoozes()
