"""Fixed-window counters in the shared cache, for every rate limit (API tokens, webhooks).

On Redis a hit is one pipelined round trip (INCR + EXPIRE NX) on a client built once per
process; on other cache backends it is add-then-incr. Callers decide what a cache failure
means (every limiter in Vigil fails open).
"""

from __future__ import annotations

from django.core.cache import caches


def redis_client():
    """The raw Redis client behind the default cache, or None for other cache backends.

    Kept per process: building a client per call costs more than the round trip it makes.
    """
    from django.core.cache.backends.redis import RedisCache

    # ``django.core.cache.cache`` is a proxy that is never a RedisCache itself.
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    cached = _clients.get(id(backend))
    if cached is None or cached[0] is not backend:
        cached = _clients[id(backend)] = (backend, backend._cache.get_client(write=True))
    return cached[1]


# id(cache backend) -> (backend, client); holding the backend keeps its id from being reused.
_clients: dict[int, tuple] = {}


def count_hit(key: str, *, ttl: int) -> int:
    """Count one hit on ``key`` (a window's counter) and return the window's total so far."""
    cache = caches["default"]
    client = redis_client()
    if client is not None:
        full_key = cache.make_and_validate_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl, nx=True)
        return int(pipe.execute()[0])
    if cache.add(key, 1, timeout=ttl):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=ttl)
        return 1
