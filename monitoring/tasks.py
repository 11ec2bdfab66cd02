"""Thin Celery tasks of the probes queue. Each is safe to run twice (two beats, redelivery)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents import backpressure
from monitoring import engine, services, stats
from monitoring.probe_kinds import probe_kinds


@shared_task
def schedule_due_probes() -> int:
    """Claim every due probe and hand them to the probes queue in batches."""
    now = timezone.now()
    claimed = engine.claim_due_probes(now=now, limit=settings.PROBE_CLAIM_LIMIT)
    size = settings.PROBE_BATCH_SIZE
    for start in range(0, len(claimed), size):
        run_probe_batch.delay(claimed[start : start + size], now.isoformat())
    total = len(claimed)
    for kind in probe_kinds():
        ids = kind.claim_due(now, settings.PROBE_CLAIM_LIMIT)
        for start in range(0, len(ids), size):
            run_kind_batch.delay(kind.key, ids[start : start + size], now.isoformat())
        total += len(ids)
    stats.record_tick(now=now)
    return total


@shared_task
def run_probe_batch(probe_ids: list[int], claimed_at: str) -> int:
    changed = engine.run_batch(probe_ids, claimed_at=datetime.fromisoformat(claimed_at))
    return len(changed)


@shared_task
def run_kind_batch(kind_key: str, ids: list[int], claimed_at: str) -> int:
    return engine.run_kind_batch(kind_key, ids, claimed_at=datetime.fromisoformat(claimed_at))


@shared_task
def sweep_overdue_heartbeats() -> int:
    return len(services.sweep_overdue_heartbeats())


@shared_task
def rollup_probe_results() -> None:
    if backpressure.defer("probe rollups"):
        return
    stats.rollup_results()


@shared_task
def purge_old_probe_results() -> int:
    if backpressure.defer("probe result retention"):
        return 0
    return stats.purge_old_results()
