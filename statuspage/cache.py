"""What public readers get comes from the cache; every change bumps a version.

Keys are ``statuspage:<scope>:v<version>:<what>``, where the scope is a page slug or
``degradation`` (the degradation answers of every service). Bumping a scope's version (one
INCR) makes every cached answer in it stale at once (HTML, summary.json, the feed, badges);
entries also expire after ``STATUSPAGE_CACHE_SECONDS`` so an override that runs out shows within
that time. A cache failure only costs a render.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

DEGRADATION_SCOPE = "degradation"

# A per-process copy of what was read, for one second: a busy page is then read from Redis
# about once a second per worker instead of twice per request. Changes made in this process
# drop it at once; other processes see them within LOCAL_SECONDS.
LOCAL_SECONDS = 1.0
LOCAL_MAX_ENTRIES = 2000
_local: dict[tuple[str, str], tuple[float, object]] = {}


def _version_key(scope: str) -> str:
    return f"statuspage:{scope}:version"


def version_of(scope: str) -> int:
    """The scope's current version; 0 when the cache is unreachable (then nothing is cached)."""
    try:
        version = cache.get(_version_key(scope))
        if version is None:
            cache.add(_version_key(scope), 1, timeout=None)
            version = cache.get(_version_key(scope)) or 1
        return int(version)
    except Exception:
        log.warning("status page cache unavailable", exc_info=True)
        return 0


def invalidate_pages(slugs) -> None:
    """Make every cached answer of these pages (and every degradation answer) stale, once the
    current transaction commits."""
    scopes = sorted(set(slugs)) + [DEGRADATION_SCOPE]

    def bump() -> None:
        for key in [k for k in _local if k[0] in scopes]:
            _local.pop(key, None)
        for scope in scopes:
            try:
                cache.incr(_version_key(scope))
            except ValueError:  # not there (evicted): any new value differs from cached keys
                cache.set(_version_key(scope), 2, timeout=None)
            except Exception:
                log.warning("could not invalidate status cache %s", scope, exc_info=True)

    transaction.on_commit(bump)


def cached(scope: str, what: str, render: Callable[[], object]):
    """The cached answer for ``what`` in ``scope``, rendering (and storing) it when missing."""
    return cached_many(scope, {what: render})[what]


def cached_many(scope: str, renders: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Several answers of one scope: from this process's one-second copy, else in two cache
    round trips (the version, then all of them); missing ones are rendered and stored."""
    now = time.monotonic()
    local = [_local.get((scope, what)) for what in renders]
    if all(entry is not None and entry[0] > now for entry in local):
        return {what: entry[1] for what, entry in zip(renders, local, strict=True)}
    values = _shared(scope, renders)
    if len(_local) > LOCAL_MAX_ENTRIES:  # unknown slugs must not grow it without bound
        _local.clear()
    for what, value in values.items():
        _local[(scope, what)] = (now + LOCAL_SECONDS, value)
    return values


def _shared(scope: str, renders: dict[str, Callable[[], object]]) -> dict[str, object]:
    version = version_of(scope)
    if version == 0:
        return {what: render() for what, render in renders.items()}
    keys = {what: f"statuspage:{scope}:v{version}:{what}" for what in renders}
    try:
        found = cache.get_many(list(keys.values()))
    except Exception:
        found = {}
    values: dict[str, object] = {}
    for what, render in renders.items():
        value = found.get(keys[what])
        if value is None:
            value = render()
            try:
                cache.set(keys[what], value, timeout=settings.STATUSPAGE_CACHE_SECONDS)
            except Exception:
                log.warning("could not cache %s", keys[what], exc_info=True)
        values[what] = value
    return values
