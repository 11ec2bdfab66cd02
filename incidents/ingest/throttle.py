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
from django.core.cache import cache

log = logging.getLogger(__name__)


class Breaker:
    """Skip a flaky dependency for ``pause`` seconds after it fails (per process)."""

    def __init__(self, pause: float):
        self.pause = pause
        self.open_until = 0.0

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until

    def trip(self) -> None:
        self.open_until = time.monotonic() + self.pause

    def reset(self) -> None:
        self.open_until = 0.0


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
        count = _count(key)
    except Exception as exc:  # any cache failure: accept the delivery
        cache_breaker.trip()
        log.warning("rate limit skipped, cache unavailable: %s", exc)
        return None
    if count > limit:
        return max(1, 60 - int(now % 60))
    return None


def redis_client():
    """The raw Redis client behind the default cache, or None for other cache backends.

    Kept per process: building a client per call costs more than the round trip it makes.
    """
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    # ``cache`` is a proxy that is never a RedisCache itself: ask for the backend of this thread.
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    cached = _clients.get(id(backend))
    if cached is None or cached[0] is not backend:
        cached = _clients[id(backend)] = (backend, backend._cache.get_client(write=True))
    return cached[1]


# id(cache backend) -> (backend, client); holding the backend keeps its id from being reused.
_clients: dict[int, tuple] = {}


def _count(key: str) -> int:
    """Increment the window's counter: one round trip on Redis, add-then-incr elsewhere."""
    client = redis_client()
    if client is not None:
        full_key = cache.make_and_validate_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, 90, nx=True)
        return int(pipe.execute()[0])
    return 1 if cache.add(key, 1, timeout=90) else cache.incr(key)
