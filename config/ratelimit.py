"""Fixed-window counters in the shared cache, for every rate limit (API, webhooks, login).

On Redis a hit is one pipelined round trip (INCR + EXPIRE NX, atomic per key however many
processes count at once) on a client built once per process from the cache's own URL
(``REDIS_URL``) with redis-py's public ``Redis.from_url``; the key is the cache's, made with
the public ``make_and_validate_key``, so ``cache.get(key)`` reads the same counter. On other
cache backends a hit is add-then-incr. Callers decide what a cache failure means (every limiter
in Vigil fails open) and may use ``Breaker`` to skip the cache for a while after one.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import caches

REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"


def redis_url() -> str | None:
    """The URL of the default cache's (first, written-to) Redis server, None for other backends.

    This is ``REDIS_URL`` in production (config/settings.py); tests may point the cache
    elsewhere, and the counters follow the cache.
    """
    config = settings.CACHES.get("default", {})
    if config.get("BACKEND") != REDIS_BACKEND:
        return None
    location = config.get("LOCATION")
    servers = location.split(",") if isinstance(location, str) else list(location or [])
    return servers[0].strip() if servers else None


def redis_client():
    """A redis-py client for the default cache's server, or None for other cache backends.

    Kept per process and per URL: building a client per call costs more than the round trip
    it makes. Timeouts are the cache's (``OPTIONS``), so an outage fails as fast as the cache.
    """
    url = redis_url()
    if url is None:
        return None
    options = settings.CACHES["default"].get("OPTIONS", {})
    timeouts = tuple(
        (key, options[key])
        for key in ("socket_connect_timeout", "socket_timeout")
        if key in options
    )
    client = _clients.get((url, timeouts))
    if client is None:
        import redis

        client = _clients[(url, timeouts)] = redis.Redis.from_url(url, **dict(timeouts))
    return client


_clients: dict[tuple, object] = {}


def count_hit(key: str, *, ttl: int, amount: int = 1) -> int:
    """Add ``amount`` hits to ``key`` (a window's counter) and return the window's total.

    Atomic: concurrent callers each see a distinct total. ``amount=-1`` gives a hit back.
    """
    cache = caches["default"]
    client = redis_client()
    if client is not None:
        full_key = cache.make_and_validate_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incrby(full_key, amount)
        pipe.expire(full_key, ttl, nx=True)
        return int(pipe.execute()[0])
    if cache.add(key, amount, timeout=ttl):
        return amount
    try:
        return cache.incr(key, amount)
    except ValueError:  # expired between add and incr
        cache.set(key, amount, timeout=ttl)
        return amount


def forget(key: str) -> None:
    """Drop a window's counter (a successful login clears the account's failures)."""
    cache = caches["default"]
    client = redis_client()
    if client is not None:
        client.delete(cache.make_and_validate_key(key))
    else:
        cache.delete(key)


def window(period: int, now: float | None = None) -> tuple[int, int]:
    """``(window number, seconds until it ends)`` for fixed windows of ``period`` seconds."""
    now = time.time() if now is None else now
    number = int(now // period)
    return number, max(1, int((number + 1) * period - now + 0.999))


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
