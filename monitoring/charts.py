"""What the probe page and the monitors overview draw: hourly percentiles as SVG polylines, the
90-day uptime bar, error categories, and p50/p95/p99 for a page of probes in one query.

Charts are drawn on the server as plain SVG (no script, no CDN): a probe page is a handful of
indexed queries over the hourly rollups, whatever the probe's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from monitoring.models import ProbeResult, ProbeRollup
from monitoring.stats import _percentile

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 8, 10, 22


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    lines: dict[str, str]  # series name -> polyline points
    threshold_y: float | None
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    empty: bool


def _nice_max(value: float) -> float:
    if value <= 0:
        return 100.0
    for step in (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if value <= step * 5:
            return float(step * ((int(value) // step) + 1))
    return float(int(value * 1.1) + 1)


def latency_chart(
    probe, *, hours: int, now: datetime | None = None, title: str = "", zone=None
) -> Chart:
    """p50/p95/p99 per hour over the last ``hours`` hours, with the probe's threshold line."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    rows = list(
        ProbeRollup.objects.filter(probe=probe, hour__gte=start, hour__lt=end)
        .order_by("hour")
        .values_list("hour", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms")
    )
    threshold = probe.latency_threshold_ms
    highest = max(
        [v for row in rows for v in row[1:] if v is not None] + [threshold * 1.05], default=0
    )
    top = _nice_max(highest)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        # Each hour is plotted at its middle.
        return PAD_LEFT + inner_w * ((at - start).total_seconds() + 1800) / span

    def y(ms: float) -> float:
        return PAD_TOP + inner_h * (1 - min(ms, top) / top)

    lines = {}
    for index, name in ((1, "p50"), (2, "p95"), (3, "p99")):
        points = [f"{x(row[0]):.1f},{y(row[index]):.1f}" for row in rows if row[index] is not None]
        lines[name] = " ".join(points)
    y_ticks = [(y(top * f), f"{int(top * f)} ms") for f in (0, 0.25, 0.5, 0.75, 1)]
    step = 6 if hours <= 24 else 24
    x_ticks = []
    tick = start
    while tick <= end:
        local = tick.astimezone(zone) if zone else tick
        label = local.strftime("%H:%M") if hours <= 24 else local.strftime("%m-%d")
        x_ticks.append((PAD_LEFT + inner_w * (tick - start).total_seconds() / span, label))
        tick += timedelta(hours=step)
    return Chart(
        title=title,
        width=WIDTH,
        height=HEIGHT,
        lines=lines,
        threshold_y=y(threshold) if threshold <= top else None,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        empty=not rows,
    )


def uptime_days(probe, *, days: int = 90, now: datetime | None = None) -> list[dict]:
    """One entry per day (oldest first): runs, failures, uptime % and a class for the bar."""
    now = now or timezone.now()
    first_day = (now - timedelta(days=days - 1)).date()
    by_day = {
        row["day"]: row
        for row in ProbeRollup.objects.filter(probe=probe, hour__gte=now - timedelta(days=days + 1))
        .annotate(day=TruncDate("hour"))
        .values("day")
        .annotate(runs=Sum("runs"), failures=Sum("failures"))
    }
    out = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        row = by_day.get(day)
        if not row or not row["runs"]:
            out.append({"day": day, "runs": 0, "uptime": None, "css": "none"})
            continue
        uptime = 100.0 * (row["runs"] - row["failures"]) / row["runs"]
        css = "ok" if uptime >= 99.9 else ("some" if uptime >= 95 else "bad")
        out.append({"day": day, "runs": row["runs"], "uptime": uptime, "css": css})
    return out


def error_categories(probe, *, since: datetime) -> list[tuple[str, int]]:
    rows = (
        ProbeResult.objects.filter(probe=probe, at__gte=since)
        .exclude(error="")
        .values_list("error")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return [(error, n) for error, n in rows]


_PAGE_SQL = """
SELECT probe_id,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms),
       count(*), count(*) FILTER (WHERE NOT ok)
FROM monitoring_proberesult
WHERE probe_id = ANY(%(ids)s) AND at >= %(since)s
GROUP BY probe_id
"""


def percentiles_for(probe_ids: list[int], *, since: datetime) -> dict[int, dict]:
    """``{probe_id: {"p50", "p95", "p99", "runs", "failures"}}`` in one query for a page."""
    if not probe_ids:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PAGE_SQL, {"ids": list(probe_ids), "since": since})
            rows = cursor.fetchall()
        out = {}
        for probe_id, percentiles, runs, failures in rows:
            p50, p95, p99 = percentiles or (None, None, None)
            out[probe_id] = {"p50": p50, "p95": p95, "p99": p99, "runs": runs,
                             "failures": failures}  # fmt: skip
        return out
    grouped: dict[int, list] = {}
    for probe_id, ok, latency in ProbeResult.objects.filter(
        probe_id__in=probe_ids, at__gte=since
    ).values_list("probe_id", "ok", "latency_ms"):
        grouped.setdefault(probe_id, []).append((ok, latency))
    out = {}
    for probe_id, rows in grouped.items():
        latencies = sorted(r[1] for r in rows if r[1] is not None)
        out[probe_id] = {
            "p50": _percentile(latencies, 0.5),
            "p95": _percentile(latencies, 0.95),
            "p99": _percentile(latencies, 0.99),
            "runs": len(rows),
            "failures": sum(1 for r in rows if not r[0]),
        }
    return out
