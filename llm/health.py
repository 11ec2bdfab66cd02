"""What the AI-health and normal-state pages show, read from rollups in a constant number of
queries (one per table, whatever the window).

Buckets longer than a minute combine the per-minute percentiles weighted by calls: an
approximation of the true bucket percentile (exact percentiles need the raw events, which are
kept only for the retention window). Counts, tokens and cost are exact sums.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.models import Service
from llm import charts, routing
from llm.charts import Series
from llm.models import (
    Baseline,
    BudgetDay,
    ErrorKind,
    Feedback,
    LlmPolicy,
    Metric,
    ModelEndpoint,
    RouteChange,
    RouteState,
    ServiceHour,
    TelemetryMinute,
)
from llm.signals import hour_of_week

WINDOWS = {"1h": (timedelta(hours=1), timedelta(minutes=5)),
           "24h": (timedelta(hours=24), timedelta(hours=1)),
           "7d": (timedelta(days=7), timedelta(hours=6))}  # fmt: skip


@dataclass
class Bucket:
    start: datetime
    calls: int = 0
    errors: int = 0
    slow: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    feedback_negative: int = 0
    errors_by_kind: dict = field(default_factory=lambda: defaultdict(int))
    weighted: dict = field(default_factory=lambda: defaultdict(float))
    weights: dict = field(default_factory=lambda: defaultdict(int))

    def add_percentile(self, name: str, value: float | None, calls: int) -> None:
        if value is not None:
            self.weighted[name] += value * calls
            self.weights[name] += calls

    def percentile(self, name: str) -> float | None:
        return self.weighted[name] / self.weights[name] if self.weights[name] else None


def _floor(at: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((at - epoch) // step) * step


def buckets_for(service: Service, start: datetime, end: datetime, step: timedelta) -> list[Bucket]:
    buckets: dict[datetime, Bucket] = {}
    cursor = _floor(start, step)
    while cursor < end:
        buckets[cursor] = Bucket(cursor)
        cursor += step
    rows = TelemetryMinute.objects.filter(service=service, minute__gte=start, minute__lt=end)
    for row in rows.iterator(chunk_size=2000):
        bucket = buckets.get(_floor(row.minute, step))
        if bucket is None:
            continue
        bucket.calls += row.calls
        bucket.errors += row.errors
        bucket.slow += row.slow
        bucket.tokens_in += row.tokens_in
        bucket.tokens_out += row.tokens_out
        bucket.cost += row.cost
        bucket.feedback_negative += row.feedback_negative
        for kind, n in (row.errors_by_kind or {}).items():
            bucket.errors_by_kind[kind] += n
        for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
                     "ttft_p95_ms", "ttft_p99_ms"):  # fmt: skip
            bucket.add_percentile(name, getattr(row, name), row.calls)
    feedback = (
        Feedback.objects.filter(service=service, at__gte=start, at__lt=end, negative=True)
        .values_list("at", flat=True)
        .iterator()
    )
    for at in feedback:
        bucket = buckets.get(_floor(at, step))
        if bucket is not None:
            bucket.feedback_negative += 1
    return list(buckets.values())


def _series(buckets, label, css, value) -> Series:
    return Series(label, [(b.start, value(b)) for b in buckets], css)


def health_context(service: Service, window: str, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    span, step = WINDOWS.get(window, WINDOWS["24h"])
    start, end = now - span, now
    buckets = buckets_for(service, start, end, step)
    chart = {"start": start, "end": end}
    totals = Bucket(start)
    for b in buckets:
        totals.calls += b.calls
        totals.errors += b.errors
        totals.tokens_in += b.tokens_in
        totals.tokens_out += b.tokens_out
        totals.cost += b.cost
        totals.feedback_negative += b.feedback_negative
        for kind, n in b.errors_by_kind.items():
            totals.errors_by_kind[kind] += n
    kinds = sorted(totals.errors_by_kind, key=lambda k: -totals.errors_by_kind[k])
    labels = dict(ErrorKind.choices)
    error_series = [
        _series(buckets, _("all errors"), "s0", lambda b: (b.errors / b.calls) if b.calls else None)
    ] + [
        _series(buckets, labels.get(kind, kind), f"s{i % 5 + 1}",
                lambda b, kind=kind: (b.errors_by_kind.get(kind, 0) / b.calls) if b.calls else None)
        for i, kind in enumerate(kinds[:5])
    ]  # fmt: skip
    changes = list(RouteChange.objects.filter(service=service).order_by("-at", "-id")[:50])
    tier_points = [(c.at, c.to_tier or 0) for c in reversed(changes) if c.at >= start]
    before = next((c for c in changes if c.at < start), None)
    if before is not None:
        tier_points.insert(0, (start, before.to_tier or 0))
    if tier_points:
        tier_points.append((end, tier_points[-1][1]))
    day = now.astimezone(UTC).date()
    policy = LlmPolicy.objects.filter(service=service).first()
    return {
        "window": window if window in WINDOWS else "24h",
        "windows": list(WINDOWS),
        "totals": totals,
        "error_kinds": [(labels.get(k, k), totals.errors_by_kind[k]) for k in kinds],
        "error_rate": (totals.errors / totals.calls) if totals.calls else None,
        "latency_chart": charts.line_chart(
            title=_("Latency p50 / p95 / p99"),
            unit=" ms",
            **chart,
            series=[
                _series(buckets, f"p{p}", f"s{i}", lambda b, p=p: b.percentile(f"latency_p{p}_ms"))
                for i, p in enumerate((50, 95, 99))
            ],
        ),  # fmt: skip
        "ttft_chart": charts.line_chart(
            title=_("Time to first token p50 / p95 / p99"),
            unit=" ms",
            **chart,
            series=[
                _series(buckets, f"p{p}", f"s{i}", lambda b, p=p: b.percentile(f"ttft_p{p}_ms"))
                for i, p in enumerate((50, 95, 99))
            ],
        ),  # fmt: skip
        "error_chart": charts.line_chart(
            title=_("Error rate by kind"), series=error_series, y_max=None, **chart
        ),
        "tokens_chart": charts.line_chart(
            title=_("Tokens per bucket (in / out)"),
            **chart,
            series=[
                _series(buckets, _("tokens in"), "s0", lambda b: b.tokens_in if b.calls else None),
                _series(
                    buckets, _("tokens out"), "s1", lambda b: b.tokens_out if b.calls else None
                ),
            ],
        ),  # fmt: skip
        "cost_chart": charts.line_chart(
            title=_("Cost per bucket"),
            **chart,
            series=[
                _series(buckets, _("cost"), "s2", lambda b: float(b.cost) if b.calls else None)
            ],
        ),  # fmt: skip
        "feedback_chart": charts.line_chart(
            title=_("Negative feedback share"),
            **chart,
            series=[
                _series(
                    buckets,
                    _("negative share"),
                    "s3",
                    lambda b: min(b.feedback_negative / b.calls, 1.0) if b.calls else None,
                )
            ],
        ),  # fmt: skip
        "route_chart": charts.line_chart(
            title=_("Serving tier (0 = none)"),
            y_max=float(max([p[1] for p in tier_points] + [3])),
            series=[Series(_("tier"), tier_points, "s0", step=True)],
            **chart,
        ),  # fmt: skip
        "route_changes": changes[:20],
        "route": routing.build_route(service),
        "route_state": RouteState.objects.filter(service=service).first(),
        "endpoints": list(ModelEndpoint.objects.filter(service=service).order_by("tier", "name")),
        "policy": policy,
        "budget_day": BudgetDay.objects.filter(service=service, day=day).first(),
        "daily_costs": daily_costs(service, now),
    }


def daily_costs(service: Service, now: datetime, days: int = 7) -> list[tuple]:
    start = (
        (now - timedelta(days=days - 1))
        .astimezone(UTC)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    totals: dict = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    for minute, calls, t_in, t_out, cost in TelemetryMinute.objects.filter(
        service=service, minute__gte=start
    ).values_list("minute", "calls", "tokens_in", "tokens_out", "cost"):
        row = totals[minute.astimezone(UTC).date()]
        row[0] += calls
        row[1] += t_in
        row[2] += t_out
        row[3] += cost
    return [(day, *totals[day]) for day in sorted(totals, reverse=True)]


def normal_context(service: Service, now: datetime | None = None) -> dict:
    """Each metric's last 7 days of hourly values against its baseline band."""
    now = now or timezone.now()
    start = now - timedelta(days=7)
    hours = list(
        ServiceHour.objects.filter(service=service, hour__gte=start)
        .order_by("hour")
        .values_list("hour", "values")
    )
    baselines = defaultdict(dict)
    for b in Baseline.objects.filter(service=service):
        baselines[b.metric][b.hour_of_week] = b
    charts_out = []
    for metric, label in Metric.choices:
        band = []
        cursor = start.replace(minute=0, second=0, microsecond=0)
        while cursor <= now:
            b = baselines[metric].get(hour_of_week(cursor))
            if b is not None:
                band.append((cursor, b.low, b.high))
            cursor += timedelta(hours=1)
        current = baselines[metric].get(hour_of_week(now))
        charts_out.append(
            {
                "metric": metric,
                "label": label,
                "current": current,
                "chart": charts.line_chart(
                    title=str(label),
                    start=start,
                    end=now,
                    band=band or None,
                    series=[Series(_("observed"), [(h, v.get(metric)) for h, v in hours], "s1")],
                ),  # fmt: skip
            }
        )
    return {
        "metrics": charts_out,
        "baseline_count": sum(len(v) for v in baselines.values()),
        "hours_recorded": ServiceHour.objects.filter(service=service).aggregate(n=Count("pk"))["n"],
    }
