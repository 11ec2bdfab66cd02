"""Per-integration rate limit on a shared cache counter, failing open.

A limit exists to protect Vigil from a runaway sender, not to shed real alerts: Alertmanager
treats a 429 as final, so the default sits far above real traffic, and when Redis is unreachable
every delivery is accepted. After a cache failure the limiter stays off for a few seconds, so an
outage does not add a connect timeout to every request.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from config.ratelimit import Breaker, count_hit, redis_client  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)


cache_breaker = Breaker(pause=10.0)


def over_limit(integration, *, now: float | None = None) -> int | None:
    """None when the delivery may pass, else the seconds until the next window (Retry-After)."""
    limit = integration.rate_limit_per_minute or settings.INGEST_RATE_LIMIT_PER_MINUTE
    if limit <= 0 or not cache_breaker.allows():
        return None
    now = time.time() if now is None else now
    window = int(now // 60)
    key = f"ingest:rate:{integration.pk}:{window}"
    try:
        count = count_hit(key, ttl=90)
    except Exception as exc:  # any cache failure: accept the delivery
        cache_breaker.trip()
        log.warning("rate limit skipped, cache unavailable: %s", exc)
        return None
    if count > limit:
        return max(1, 60 - int(now % 60))
    return None
