"""Ask the ingest queue to apply pending events, without ever failing or slowing the request.

The event is already committed when this runs (``on_commit``). If the broker is unreachable the
publish is skipped for a few seconds in this process and the periodic sweep applies the events.
"""

from __future__ import annotations

import logging

from django.core.cache import cache

from config.ratelimit import Breaker, redis_client

log = logging.getLogger(__name__)

broker_breaker = Breaker(pause=5.0)


KICK_FLAG = "ingest:kick"
KICK_FLAG_SECONDS = 10


def request_processing() -> None:
    """Make sure a worker will look at the pending events, publishing at most one task.

    A flag in the cache says "a task is queued and has not started its scan yet". The task
    clears the flag before it scans, and this runs after our event committed, so either we set
    the flag and publish, or a queued task's scan will still see our event. The flag expires on
    its own in case the task is lost (the sweep covers that case).
    """
    try:
        client = redis_client()
        if client is not None:
            flag = cache.make_and_validate_key(KICK_FLAG)
            first = bool(client.set(flag, 1, nx=True, ex=KICK_FLAG_SECONDS))
        else:
            first = cache.add(KICK_FLAG, 1, timeout=KICK_FLAG_SECONDS)
    except Exception:  # cache down: publish anyway, the broker may still work
        first = True
    if not first or not broker_breaker.allows():
        return
    from incidents.tasks import apply_inbound_events

    try:
        apply_inbound_events.delay()
    except Exception as exc:  # broker down or misconfigured: the sweep covers it
        broker_breaker.trip()
        _forget_flag()
        log.warning("could not enqueue ingest work, the sweep will apply it: %s", exc)


def _forget_flag() -> None:
    try:
        cache.delete(KICK_FLAG)
    except Exception:
        log.debug("could not clear the ingest kick flag", exc_info=True)


def scan_started() -> None:
    """Called by the task before it looks for pending events (see request_processing)."""
    _forget_flag()
