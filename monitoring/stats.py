"""Reading what probes observed: percentiles, hourly rollups, retention and the self-watch.

Percentiles come from PostgreSQL (``percentile_cont``) in one query per probe; SQLite (the
embedded mode) gets the same numbers computed in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from monitoring.models import (
    ErrorCategory,
    Heartbeat,
    HeartbeatPing,
    Probe,
    ProbeResult,
    ProbeRollup,
    ProbeState,
    SchedulerTick,
)

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
SCHEDULER = "probe-scheduler"


@dataclass(frozen=True)
class WindowStats:
    runs: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.runs if self.runs else None


def _percentile(sorted_values: list[int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


_WINDOW_SQL = """
SELECT {columns}
FROM monitoring_proberesult
WHERE probe_id = %(probe)s AND at >= %(since_7d)s AND at <= %(now)s
"""
_WINDOW_COLUMNS = """
percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
    FILTER (WHERE at >= %(since_{w})s),
count(*) FILTER (WHERE at >= %(since_{w})s),
count(*) FILTER (WHERE at >= %(since_{w})s AND NOT ok)
"""


def probe_stats(probe: Probe, *, now: datetime | None = None) -> dict[str, WindowStats]:
    """p50/p95/p99 latency and error rate of one probe over the last 1 h, 24 h and 7 d."""
    now = now or timezone.now()
    since = {f"since_{w}": now - span for w, span in WINDOWS.items()}
    if connection.vendor == "postgresql":
        columns = ",".join(_WINDOW_COLUMNS.format(w=w) for w in WINDOWS)
        with connection.cursor() as cursor:
            cursor.execute(
                _WINDOW_SQL.format(columns=columns), {"probe": probe.pk, "now": now, **since}
            )
            row = cursor.fetchone()
        stats = {}
        for i, window in enumerate(WINDOWS):
            percentiles, runs, failures = row[i * 3 : i * 3 + 3]
            p50, p95, p99 = percentiles or (None, None, None)
            stats[window] = WindowStats(runs, failures, p50, p95, p99)
        return stats
    rows = list(
        ProbeResult.objects.filter(probe=probe, at__gte=since["since_7d"], at__lte=now).values_list(
            "at", "ok", "latency_ms"
        )
    )
    stats = {}
    for window in WINDOWS:
        inside = [r for r in rows if r[0] >= since[f"since_{window}"]]
        latencies = sorted(r[2] for r in inside if r[2] is not None)
        stats[window] = WindowStats(
            len(inside),
            sum(1 for r in inside if not r[1]),
            *(_percentile(latencies, f) for f in (0.5, 0.95, 0.99)),
        )
    return stats


_ROLLUP_SQL = """
INSERT INTO monitoring_proberollup
    (probe_id, hour, runs, failures, slow, latency_avg_ms, latency_p50_ms, latency_p95_ms,
     latency_p99_ms, latency_max_ms)
SELECT probe_id, date_trunc('hour', at), count(*), count(*) FILTER (WHERE NOT ok),
       count(*) FILTER (WHERE error = %(slow)s), avg(latency_ms),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms),
       max(latency_ms)
FROM monitoring_proberesult
WHERE at >= %(since)s AND at < %(until)s
GROUP BY probe_id, date_trunc('hour', at)
ON CONFLICT (probe_id, hour) DO UPDATE SET
    runs = EXCLUDED.runs, failures = EXCLUDED.failures, slow = EXCLUDED.slow,
    latency_avg_ms = EXCLUDED.latency_avg_ms, latency_p50_ms = EXCLUDED.latency_p50_ms,
    latency_p95_ms = EXCLUDED.latency_p95_ms, latency_p99_ms = EXCLUDED.latency_p99_ms,
    latency_max_ms = EXCLUDED.latency_max_ms
"""


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def rollup_results(*, now: datetime | None = None, hours: int = 2) -> None:
    """(Re)compute the hourly rollups of the last ``hours`` hours, the current one included.

    An upsert on (probe, hour): running it twice, or again later in the same hour, only
    refreshes the same rows.
    """
    now = now or timezone.now()
    since, until = _hour(now) - timedelta(hours=hours - 1), _hour(now) + timedelta(hours=1)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _ROLLUP_SQL, {"since": since, "until": until, "slow": ErrorCategory.SLOW.value}
            )
        return
    groups: dict[tuple[int, datetime], list] = {}
    for probe_id, at, ok, error, latency in ProbeResult.objects.filter(
        at__gte=since, at__lt=until
    ).values_list("probe_id", "at", "ok", "error", "latency_ms"):
        groups.setdefault((probe_id, _hour(at)), []).append((ok, error, latency))
    with transaction.atomic():
        for (probe_id, hour), rows in groups.items():
            latencies = sorted(r[2] for r in rows if r[2] is not None)
            ProbeRollup.objects.update_or_create(
                probe_id=probe_id,
                hour=hour,
                defaults={
                    "runs": len(rows),
                    "failures": sum(1 for r in rows if not r[0]),
                    "slow": sum(1 for r in rows if r[1] == ErrorCategory.SLOW),
                    "latency_avg_ms": sum(latencies) / len(latencies) if latencies else None,
                    "latency_p50_ms": _percentile(latencies, 0.5),
                    "latency_p95_ms": _percentile(latencies, 0.95),
                    "latency_p99_ms": _percentile(latencies, 0.99),
                    "latency_max_ms": latencies[-1] if latencies else None,
                },
            )


def purge_old_results(*, now: datetime | None = None, chunk: int = 10_000) -> int:
    """Delete raw results and pings older than the retention, in chunks (short locks)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PROBE_RESULT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(ProbeResult.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        deleted += ProbeResult.objects.filter(pk__in=ids).delete()[0]
    # Pings have no index on time alone (it would slow every ping): go heartbeat by heartbeat.
    for heartbeat_id in Heartbeat.objects.values_list("pk", flat=True).iterator():
        deleted += HeartbeatPing.objects.filter(heartbeat_id=heartbeat_id, at__lt=cutoff).delete()[
            0
        ]
    return deleted


def record_tick(name: str = SCHEDULER, *, now: datetime | None = None) -> None:
    SchedulerTick.objects.update_or_create(name=name, defaults={"at": now or timezone.now()})


def scheduler_problem(*, now: datetime | None = None) -> str | None:
    """Readiness: None while the probe scheduler ticks, else what is wrong.

    The tick is written by the scheduler task as a worker runs it, so a stopped beat and
    stopped workers both show. Before the first tick it matters only if there is work.
    """
    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.PROBE_SCHEDULER_STALE_SECONDS)
    try:
        tick = SchedulerTick.objects.filter(name=SCHEDULER).values_list("at", flat=True).first()
        waiting = tick is None and (
            Probe.objects.filter(paused=False).exists()
            or Heartbeat.objects.filter(state=ProbeState.UP).exists()
        )
    except DatabaseError as exc:  # a readiness check reports, never raises
        return f"cannot read the scheduler's last tick: {exc.__class__.__name__}"
    if tick is None:
        return (
            "the probe scheduler has never run: are celery beat and a worker running?"
            if waiting
            else None
        )
    if now - tick > stale_after:
        return (
            f"the probe scheduler last ran {int((now - tick).total_seconds())} s ago "
            f"(more than {stale_after.seconds} s): are celery beat and a worker for the probes "
            "queue running?"
        )
    return None
