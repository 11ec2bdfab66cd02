"""Thin Celery tasks of Vigil's own operations; each is safe to run twice."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

from incidents import backpressure
from ops import backup as backups
from ops import rpo, selfwatch

LAST_BACKUP_KEY = "ops:last-backup-at"


# Acknowledged when it starts, not when it ends: a dump can outlast RabbitMQ's consumer timeout
# (30 min by default), which would close the worker's channel and hand the dump to another
# worker. A backup lost with its worker is made at the next interval (the RPO guard watches).
@shared_task(ignore_result=True, acks_late=False)
def backup() -> str:
    """The scheduled backup. A lock in the cache keeps two beats from dumping at once."""
    if not cache.add("ops:backup-running", time.time(), 6 * 3600):
        return "already running"
    try:
        result = backups.create_backup()
    except Exception as exc:  # the heartbeat must hear about every failure
        backups.ping_heartbeat(False, f"{exc.__class__.__name__}: {exc}")
        raise
    finally:
        cache.delete("ops:backup-running")
    backups.ping_heartbeat(True, f"{result.path.name} {result.manifest['size']} bytes")
    # BACKUP_DIR is on the worker that ran this; /metrics may be served by another host.
    cache.set(LAST_BACKUP_KEY, time.time(), None)
    return result.path.name


@shared_task(ignore_result=True)
def check_rpo() -> dict:
    if backpressure.defer("RPO guard checks"):
        return {}
    return rpo.check_all()


@shared_task(ignore_result=True)
def selfwatch_tick(sent_at: float | None = None) -> bool:
    """Sent by beat with the time it was sent; run by a worker. The pair proves both live."""
    return selfwatch.record_tick(sent_at=sent_at)
