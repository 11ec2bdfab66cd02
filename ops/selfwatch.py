"""Self-watch: is Vigil itself healthy enough to page anyone?

Every SELFWATCH_INTERVAL_SECONDS beat publishes ``ops.tasks.selfwatch_tick`` (the publish is
noted in the cache, from the beat process itself) and a worker runs it: the worker notes its
run, measures the ingest backlog and pings the external dead-man's switch
(SELFWATCH_PING_URL: a second Vigil's /ping/<uuid> or any healthchecks-style service). So the
switch hears from Vigil only while beat, broker and a worker all work, and it pages someone
when Vigil goes silent. Inside, ``problems()`` names what is unhealthy for the banner every
page shows and for /readyz.
"""

from __future__ import annotations

import logging
import time
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

log = logging.getLogger(__name__)
BEAT_KEY = "selfwatch:beat-sent"
WORKER_KEY = "selfwatch:worker-ran"
BACKLOG_KEY = "selfwatch:ingest-backlog"
PING_KEY = "selfwatch:dead-man-ping"
WATCHING_SINCE_KEY = "selfwatch:since"
TICK_TASK = "ops.tasks.selfwatch_tick"


def note_beat_publish(now: float | None = None) -> None:
    cache.set(BEAT_KEY, now or time.time(), None)


def ingest_backlog(now=None) -> int:
    """Accepted alert deliveries still unapplied after SELFWATCH_BACKLOG_SECONDS."""
    from incidents.models import InboundEvent

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SELFWATCH_BACKLOG_SECONDS)
    return InboundEvent.objects.pending().filter(received_at__lt=cutoff).count()


def ping_dead_mans_switch() -> tuple[bool, str]:
    url = settings.SELFWATCH_PING_URL
    if not url:
        return True, "no SELFWATCH_PING_URL configured"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (admin's URL)
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except OSError as exc:
        log.warning("dead-man's switch ping to %s failed: %s", url, exc)
        return False, f"{exc.__class__.__name__}: {exc}"


def record_tick(*, sent_at: float | None = None) -> bool:
    """The worker's half of a tick. Returns whether the dead-man's switch heard us."""
    now = time.time()
    cache.set(WORKER_KEY, now, None)
    try:
        cache.set(BACKLOG_KEY, ingest_backlog(), None)
    except Exception as exc:  # the ping below must leave even when the database is down
        log.warning("could not measure the ingest backlog: %s", exc)
    ok, detail = ping_dead_mans_switch()
    previous = cache.get(PING_KEY)
    cache.set(PING_KEY, {"at": now, "ok": ok, "detail": detail}, None)
    # A routine tick is DEBUG; the switch going deaf (or hearing us again) is news.
    changed = isinstance(previous, dict) and previous.get("ok") != ok
    level = logging.DEBUG if ok and not changed else logging.INFO if ok else logging.WARNING
    log.log(
        level, "self-watch tick: dead-man's switch %s (%s)", "heard us" if ok else "FAILED", detail
    )
    return ok


def _age(value, now: float) -> float | None:
    return None if value is None else now - float(value)


def problems(now: float | None = None) -> dict[str, str]:
    """What is unhealthy right now, by component; empty when all is well. Reads the cache
    only (no query), so every page can afford it. Before the first tick nothing is reported
    until SELFWATCH_STALE_SECONDS have passed since Vigil first looked."""
    now = now or time.time()
    stale = settings.SELFWATCH_STALE_SECONDS
    try:
        cache.add(WATCHING_SINCE_KEY, now, None)
        values = cache.get_many([BEAT_KEY, WORKER_KEY, BACKLOG_KEY, PING_KEY, WATCHING_SINCE_KEY])
    except Exception as exc:  # the banner is on every page: a cache outage must not be a 500
        return {"cache": f"the cache (Redis) is unreachable, self-watch cannot tell: {exc}"}
    watching = _age(values.get(WATCHING_SINCE_KEY), now) or 0.0
    found: dict[str, str] = {}
    beat_age = _age(values.get(BEAT_KEY), now)
    worker_age = _age(values.get(WORKER_KEY), now)
    if beat_age is None and watching > stale:
        found["beat"] = "celery beat has not sent a self-watch tick since Vigil started watching"
    elif beat_age is not None and beat_age > stale:
        found["beat"] = f"celery beat sent its last self-watch tick {int(beat_age)} s ago"
    if worker_age is None and watching > stale:
        found["workers"] = "no worker has run a self-watch tick since Vigil started watching"
    elif worker_age is not None and worker_age > stale:
        found["workers"] = f"no worker has run a self-watch tick for {int(worker_age)} s"
    backlog = values.get(BACKLOG_KEY) or 0
    if backlog > settings.SELFWATCH_BACKLOG_LIMIT:
        found["ingest_backlog"] = (
            f"{backlog} alert deliveries wait longer than {settings.SELFWATCH_BACKLOG_SECONDS} s "
            "to be applied"
        )
    ping = values.get(PING_KEY)
    if ping and not ping.get("ok"):
        found["dead_mans_switch"] = f"the dead-man's switch ping failed: {ping.get('detail')}"
    return found


def readiness_check(name: str):
    def check() -> str | None:
        return problems().get(name)

    return check
