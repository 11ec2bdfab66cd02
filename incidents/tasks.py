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
    """Apply every accepted delivery that is still pending (broker was down, worker crashed).

    Two beats running this at once is harmless: each event is claimed with SKIP LOCKED and a
    conditional check on ``processed_at`` before it is applied.
    """
    from incidents.ingest.services import apply_pending_events

    return apply_pending_events()
