"""Back-pressure: past its bound, the ingest backlog keeps being accepted; what can wait, waits.

Senders never see load: Alertmanager treats every 4xx as final, and a 2xx must stay durable, so
the webhook endpoints go on committing each delivery and answering 2xx however deep the backlog.
What gives way is work that can wait: rollups, retention and other non-urgent sweeps call
``defer("what")`` first and return at once while the backlog of accepted-but-unapplied
deliveries is deeper than INGEST_BACKLOG_SHED_DEPTH or older than
INGEST_BACKLOG_SHED_AGE_SECONDS. The database and the workers then spend themselves on applying
alerts, opening incidents and paging. Deferred work catches up on its next run after the backlog
drains: every such task works from what is in the database, not from what it was sent.

The backlog is measured with one aggregate query and shared through the cache for
INGEST_BACKLOG_CHECK_SECONDS, so every worker, web process and board view together ask
PostgreSQL about once per interval. /metrics, /readyz ("degraded", still 200) and a banner on
the board show it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min
from django.utils import timezone

log = logging.getLogger(__name__)
CACHE_KEY = "ingest:backlog"
# Work this process has said it defers during the current overload (announced once each).
_deferring: set[str] = set()


@dataclass(frozen=True)
class Backlog:
    """Accepted deliveries not yet applied: how many, and how long the oldest has waited."""

    depth: int
    oldest_age_seconds: float

    @property
    def over_bound(self) -> bool:
        depth_bound = settings.INGEST_BACKLOG_SHED_DEPTH
        age_bound = settings.INGEST_BACKLOG_SHED_AGE_SECONDS
        return bool(
            (depth_bound and self.depth > depth_bound)
            or (age_bound and self.oldest_age_seconds > age_bound)
        )

    def describe(self) -> str:
        return (
            f"{self.depth:,} alert deliveries wait to be applied, the oldest for "
            f"{self.oldest_age_seconds:.0f} s (bound: {settings.INGEST_BACKLOG_SHED_DEPTH:,} "
            f"deliveries or {settings.INGEST_BACKLOG_SHED_AGE_SECONDS} s)"
        )


def measure(now: datetime | None = None) -> Backlog:
    """The backlog right now: one aggregate over the pending-deliveries index."""
    from incidents.models import InboundEvent

    now = now or timezone.now()
    found = InboundEvent.objects.pending().aggregate(n=Count("id"), oldest=Min("received_at"))
    age = (now - found["oldest"]).total_seconds() if found["oldest"] else 0.0
    return Backlog(depth=found["n"], oldest_age_seconds=max(age, 0.0))


def current() -> Backlog:
    """The backlog as measured at most INGEST_BACKLOG_CHECK_SECONDS ago by any process."""
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:  # a cache outage costs one query per caller, never an error
        cached = None
    if cached is not None:
        return Backlog(*cached)
    backlog = measure()
    try:
        cache.set(
            CACHE_KEY,
            (backlog.depth, backlog.oldest_age_seconds),
            settings.INGEST_BACKLOG_CHECK_SECONDS,
        )
    except Exception:
        log.debug("could not cache the ingest backlog", exc_info=True)
    return backlog


def defer(work: str) -> bool:
    """True when ``work`` (a short name, e.g. "probe rollups") should not run now.

    Called first thing by tasks that can wait; each says so at INFO once per overload and
    process, and once more when the backlog is back under its bound.
    """
    backlog = current()
    if backlog.over_bound:
        if work not in _deferring:
            _deferring.add(work)
            log.info("ingest backlog over its bound, deferring %s: %s", work, backlog.describe())
        return True
    if work in _deferring:
        _deferring.discard(work)
        log.info("ingest backlog back under its bound, %s resume: %s", work, backlog.describe())
    return False


def readiness_problem() -> str | None:
    """For /readyz (advisory: "degraded", still 200). Web processes keep accepting alerts."""
    backlog = current()
    if not backlog.over_bound:
        return None
    return f"{backlog.describe()}: rollups, retention and non-urgent sweeps are deferred"
