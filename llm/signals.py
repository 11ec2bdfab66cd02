"""Budgets and anomalies: incidents that open once and resolve when the cause is gone.

**Budget**: the service's model cost per UTC day against ``LlmPolicy.daily_budget``. At the
warning share (default 80 %) the day is marked warned (shown on the AI-health page, logged,
once); at 100 % an incident (severity 3, dedup ``llm-budget``) opens once; it resolves when the
day is over or the budget is raised above what was spent.

**Anomalies against a documented normal**: every hour the service's metrics per hour
(``ServiceHour``: p95 latency, error rate, cost per hour, tokens per call, negative-feedback
share) are stored. The baseline of a metric at an hour of the week (Monday 00:00 UTC = 0) is the
median and MAD of that hour's values over the last ``LLM_BASELINE_WEEKS`` weeks (hours with at
least ``LLM_ANOMALY_MIN_CALLS`` calls). Start-up rule: with fewer than 3 such weeks, the pooled
values of every hour of the last 7 days are used instead (at least 12 hours); with less than
that the metric is not judged ("learning"). The band is median +/- k x 1.4826 x MAD (k =
``LLM_ANOMALY_MADS``, default 3; 1.4826 x MAD estimates the standard deviation), at least
+/- 10 % of the median or a small per-metric floor, so a perfectly flat history does not page
on noise. Every 5 minutes the last 60 minutes are compared with the band of the current hour
of the week: above the band opens an incident (severity 1, dedup ``llm-anomaly:<metric>``) whose
summary names the expected band and the observed value; back within the band resolves it. Only
rises are judged: a drop in latency, errors or cost is not an incident.
"""

from __future__ import annotations

import logging
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident, Service, Source
from llm.models import (
    OUTCOME_OK,
    Baseline,
    BudgetDay,
    Feedback,
    LlmPolicy,
    Metric,
    ServiceHour,
    TelemetryEvent,
)
from llm.telemetry import percentile

log = logging.getLogger(__name__)

BUDGET_ACTOR = Actor.system("model budget")
ANOMALY_ACTOR = Actor.system("anomaly detection")
MAD_SCALE = 1.4826
MIN_WEEKS = 3
MIN_POOLED_HOURS = 12
# Smallest half-width of a band, per metric, so a flat history still allows ordinary noise.
FLOORS = {
    Metric.P95_LATENCY: 50.0,
    Metric.ERROR_RATE: 0.02,
    Metric.COST_PER_HOUR: 0.01,
    Metric.TOKENS_PER_CALL: 5.0,
    Metric.NEGATIVE_FEEDBACK: 0.02,
}


def _open_incident(service: Service, dedup_key: str) -> Incident | None:
    return Incident.objects.open().filter(service=service, dedup_key=dedup_key).first()


# --- budget -------------------------------------------------------------------------------


def spent_on(service: Service, day) -> Decimal:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    total = TelemetryEvent.objects.filter(
        service=service, at__gte=start, at__lt=start + timedelta(days=1)
    ).aggregate(total=Sum("cost"))["total"]
    return total or Decimal(0)


def check_budget(*, service: Service, now: datetime | None = None) -> str:
    """Warn once at the warning share, open the incident once at 100 %, resolve when over."""
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    policy = LlmPolicy.objects.filter(service=service).first()
    dedup = "llm-budget"
    open_incident = _open_incident(service, dedup)
    budget = policy.daily_budget if policy else None
    if open_incident is not None:
        exceeded = (
            BudgetDay.objects.filter(service=service, exceeded_at__isnull=False)
            .order_by("-day")
            .values_list("day", flat=True)
            .first()
        )
        opened_day = exceeded or open_incident.triggered_at.astimezone(UTC).date()
        spent_then = spent_on(service, opened_day)
        if opened_day != day or budget is None or spent_then < budget:
            why = (
                "a new budget day began"
                if opened_day != day
                else ("the budget was removed" if budget is None else f"the budget is now {budget}")
            )
            incident_services.resolve(incident=open_incident, actor=BUDGET_ACTOR, note=why)
            return "resolved"
    if budget is None or budget <= 0:
        return ""
    spent = spent_on(service, day)
    row, _ = BudgetDay.objects.get_or_create(
        service=service, day=day, defaults={"budget": budget, "spent": spent}
    )
    BudgetDay.objects.filter(pk=row.pk).update(spent=spent, budget=budget)
    share = spent / budget * 100
    said = ""
    if share >= policy.budget_warning_percent and BudgetDay.objects.filter(
        pk=row.pk, warned_at__isnull=True
    ).update(warned_at=now):
        log.warning(
            "model cost of %s reached %.0f %% of its daily budget (%s of %s)",
            service.slug, share, spent, budget,
        )  # fmt: skip
        said = "warned"
    if share >= 100 and open_incident is None:
        with transaction.atomic():
            if BudgetDay.objects.filter(pk=row.pk, exceeded_at__isnull=True).update(
                exceeded_at=now
            ):
                incident_services.open_incident(
                    service=service,
                    title=f"{service.name}: daily model budget exceeded",
                    severity=3,
                    actor=BUDGET_ACTOR,
                    summary=(
                        f"Model cost today (UTC {day}) is {spent:.4f}, {share:.0f} % of the "
                        f"daily budget of {budget}."
                    ),
                    dedup_key=dedup,
                    source=Source.SYSTEM,
                    data={"day": day.isoformat(), "spent": str(spent), "budget": str(budget)},
                )
                said = "opened"
    return said


def check_budgets(*, now: datetime | None = None) -> int:
    ids = set(
        LlmPolicy.objects.filter(daily_budget__isnull=False).values_list("service_id", flat=True)
    )
    ids |= set(
        Incident.objects.open().filter(dedup_key="llm-budget").values_list("service_id", flat=True)
    )
    return sum(1 for s in Service.objects.filter(pk__in=ids) if check_budget(service=s, now=now))


# --- metrics per hour ---------------------------------------------------------------------


def metrics_between(service: Service, start: datetime, end: datetime) -> tuple[int, dict]:
    """``(calls, {metric: value})`` of a service's calls in [start, end)."""
    events = TelemetryEvent.objects.filter(service=service, at__gte=start, at__lt=end)
    agg = events.aggregate(
        calls=Count("pk"),
        errors=Count("pk", filter=~Q(outcome=OUTCOME_OK)),
        cost=Sum("cost"),
        tokens_in=Sum("tokens_in"),
        tokens_out=Sum("tokens_out"),
        negative=Count("pk", filter=Q(feedback__lt=0)),
    )
    calls = agg["calls"]
    if not calls:
        return 0, {}
    hours = (end - start).total_seconds() / 3600
    negative = (
        agg["negative"]
        + Feedback.objects.filter(service=service, at__gte=start, at__lt=end, negative=True).count()
    )
    latencies = list(events.values_list("latency_ms", flat=True))
    values = {
        Metric.P95_LATENCY: percentile(latencies, 0.95),
        Metric.ERROR_RATE: agg["errors"] / calls,
        Metric.COST_PER_HOUR: float(agg["cost"] or 0) / hours,
        Metric.TOKENS_PER_CALL: ((agg["tokens_in"] or 0) + (agg["tokens_out"] or 0)) / calls,
        Metric.NEGATIVE_FEEDBACK: min(negative / calls, 1.0),
    }
    return calls, {str(k): float(v) for k, v in values.items()}


def hour_of_week(at: datetime) -> int:
    at = at.astimezone(UTC)
    return at.weekday() * 24 + at.hour


def record_hours(*, service: Service, now: datetime | None = None, hours: int = 2) -> int:
    """Store (or refresh) the last ``hours`` complete hours' metrics of the service."""
    now = (now or timezone.now()).astimezone(UTC)
    current = now.replace(minute=0, second=0, microsecond=0)
    written = 0
    for back in range(1, hours + 1):
        start = current - timedelta(hours=back)
        calls, values = metrics_between(service, start, start + timedelta(hours=1))
        if not calls:
            continue
        ServiceHour.objects.update_or_create(
            service=service, hour=start, defaults={"calls": calls, "values": values}
        )
        written += 1
    return written


# --- baselines ----------------------------------------------------------------------------


def band(values: list[float], metric: str) -> tuple[float, float, float, float]:
    """``(median, mad, low, high)`` of the values, with the documented width rule."""
    median = statistics.median(values)
    mad = statistics.median([abs(v - median) for v in values])
    half = max(settings.LLM_ANOMALY_MADS * MAD_SCALE * mad, 0.1 * abs(median), FLOORS[metric])
    return median, mad, max(0.0, median - half), median + half


def compute_baselines(*, service: Service, now: datetime | None = None) -> int:
    """Recompute every metric's baseline at every hour of the week from ServiceHour history."""
    now = now or timezone.now()
    since = (now - timedelta(weeks=settings.LLM_BASELINE_WEEKS)).replace(
        minute=0, second=0, microsecond=0
    )
    history = list(
        ServiceHour.objects.filter(
            service=service,
            hour__gte=since,
            hour__lt=now,
            calls__gte=settings.LLM_ANOMALY_MIN_CALLS,
        ).values_list("hour", "values")
    )
    recent = [v for h, v in history if h >= now - timedelta(days=7)]
    by_how: dict[int, list[dict]] = {}
    for hour, values in history:
        by_how.setdefault(hour_of_week(hour), []).append(values)
    rows = []
    for metric in Metric.values:
        pooled = [v[metric] for v in recent if metric in v]
        for how in range(168):
            samples = [v[metric] for v in by_how.get(how, []) if metric in v]
            basis = "hour_of_week"
            if len(samples) < MIN_WEEKS:
                samples, basis = pooled, "pooled"
                if len(samples) < MIN_POOLED_HOURS:
                    continue
            median, mad, low, high = band(samples, metric)
            rows.append(
                Baseline(
                    service=service, metric=metric, hour_of_week=how, median=median, mad=mad,
                    low=low, high=high, samples=len(samples), basis=basis, computed_at=now,
                )
            )  # fmt: skip
    with transaction.atomic():
        Baseline.objects.filter(service=service).delete()
        Baseline.objects.bulk_create(rows)
    return len(rows)


# --- anomalies ----------------------------------------------------------------------------


def _format(metric: str, value: float) -> str:
    if metric in (Metric.ERROR_RATE, Metric.NEGATIVE_FEEDBACK):
        return f"{value * 100:.1f} %"
    if metric == Metric.P95_LATENCY:
        return f"{value:.0f} ms"
    if metric == Metric.COST_PER_HOUR:
        return f"{value:.4f}/h"
    return f"{value:.1f}"


def check_anomalies(*, service: Service, now: datetime | None = None) -> dict[str, str]:
    """Compare the last 60 minutes with the band of this hour of the week; open or resolve."""
    now = now or timezone.now()
    calls, observed = metrics_between(service, now - timedelta(hours=1), now)
    if calls < settings.LLM_ANOMALY_MIN_CALLS:
        return {}
    baselines = {
        b.metric: b
        for b in Baseline.objects.filter(service=service, hour_of_week=hour_of_week(now))
    }
    said: dict[str, str] = {}
    for metric, value in observed.items():
        baseline = baselines.get(metric)
        if baseline is None:
            continue
        dedup = f"llm-anomaly:{metric}"
        incident = _open_incident(service, dedup)
        label = Metric(metric).label
        expected = f"{_format(metric, baseline.low)} to {_format(metric, baseline.high)}"
        if value > baseline.high and incident is None:
            incident_services.open_incident(
                service=service,
                title=f"{service.name}: {label} outside its normal band",
                severity=1,
                actor=ANOMALY_ACTOR,
                summary=(
                    f"{label} over the last hour is {_format(metric, value)}; normal at this hour "
                    f"of the week is {expected} (median {_format(metric, baseline.median)}, "
                    f"{baseline.samples} samples, {baseline.basis.replace('_', ' ')} basis)."
                ),
                dedup_key=dedup,
                source=Source.SYSTEM,
                data={
                    "metric": metric, "observed": value, "expected_low": baseline.low,
                    "expected_high": baseline.high, "median": baseline.median, "calls": calls,
                },
            )  # fmt: skip
            said[metric] = "opened"
        elif value <= baseline.high and incident is not None:
            incident_services.resolve(
                incident=incident,
                actor=ANOMALY_ACTOR,
                note=f"{label} is back within {expected}: {_format(metric, value)}",
            )
            said[metric] = "resolved"
    return said


def services_with_telemetry(since: datetime) -> list[Service]:
    ids = TelemetryEvent.objects.filter(at__gte=since).values_list("service_id", flat=True)
    ids = set(ids.distinct())
    ids |= set(
        Incident.objects.open()
        .filter(dedup_key__startswith="llm-anomaly:")
        .values_list("service_id", flat=True)
    )
    disabled = set(
        LlmPolicy.objects.filter(anomaly_detection=False).values_list("service_id", flat=True)
    )
    return list(Service.objects.filter(pk__in=ids - disabled))
