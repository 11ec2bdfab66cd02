"""Thin Celery tasks of Vigil's own operations; each is safe to run twice."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

from incidents import backpressure
from ops import backup as backups
from ops import rpo, selfwatch


@shared_task(ignore_result=True)
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
