"""Budget and anomaly incidents: each opens once, with its numbers, and resolves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from incidents.models import Incident, Status
from llm import signals, telemetry
from llm.models import Baseline, BudgetDay, LlmPolicy, Metric, ServiceHour
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def endpoint(service):
    return ModelEndpointFactory(service=service, name="primary", minimum_calls=100000)


def spend(endpoint, cost: str, *, at=NOW, n: int = 1, latency: int = 800, outcome="ok"):
    rows = [
        (endpoint.service_id, endpoint.pk, at - timedelta(seconds=i + 1), at, latency, None,
         outcome, 100, 20, Decimal(cost), None)
        for i in range(n)
    ]  # fmt: skip
    telemetry.insert_rows(rows)


def budget_incidents(service):
    return Incident.objects.filter(service=service, dedup_key="llm-budget")


def test_budget_warns_once_at_80_percent_opens_once_at_100_and_resolves(service, endpoint):
    LlmPolicy.objects.create(service=service, daily_budget=Decimal("1.00"))
    spend(endpoint, "0.85")
    assert signals.check_budget(service=service, now=NOW) == "warned"
    assert signals.check_budget(service=service, now=NOW) == ""
    day = BudgetDay.objects.get(service=service)
    assert day.warned_at is not None and day.exceeded_at is None
    assert not budget_incidents(service).exists()

    spend(endpoint, "0.20", at=NOW - timedelta(minutes=5))
    assert signals.check_budget(service=service, now=NOW) == "opened"
    assert signals.check_budget(service=service, now=NOW) == ""
    incident = budget_incidents(service).get()
    assert incident.severity == 3 and incident.status == Status.TRIGGERED
    assert "1.0500" in incident.summary and "105 %" in incident.summary
    assert list(incident.timeline.values_list("kind", flat=True)) == ["opened"]

    LlmPolicy.objects.filter(service=service).update(daily_budget=Decimal("2.00"))
    assert signals.check_budget(service=service, now=NOW) == "resolved"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and "budget is now 2.00" in incident.resolution_note


def test_budget_incident_resolves_when_the_day_is_over(service, endpoint):
    LlmPolicy.objects.create(service=service, daily_budget=Decimal("0.50"))
    spend(endpoint, "0.60")
    signals.check_budget(service=service, now=NOW)
    incident = budget_incidents(service).get()
    assert signals.check_budget(service=service, now=NOW + timedelta(days=1)) == "resolved"
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and "new budget day" in incident.resolution_note
    assert budget_incidents(service).count() == 1


def history(service, *, weeks: int, p95: float = 800.0, hours_back=None):
    """ServiceHour rows at NOW's hour of the week in past weeks (or the given hours back)."""
    hour = NOW.replace(minute=0)
    points = [hour - timedelta(weeks=w) for w in range(1, weeks + 1)]
    if hours_back:
        points = [hour - timedelta(hours=h) for h in hours_back]
    for i, at in enumerate(points):
        ServiceHour.objects.create(
            service=service, hour=at, calls=100,
            values={
                Metric.P95_LATENCY: p95 + (i % 3) * 20, Metric.ERROR_RATE: 0.01,
                Metric.COST_PER_HOUR: 0.5, Metric.TOKENS_PER_CALL: 120.0,
                Metric.NEGATIVE_FEEDBACK: 0.0,
            },
        )  # fmt: skip


def test_baseline_is_median_and_mad_per_hour_of_week(service):
    history(service, weeks=4)  # p95 values 800, 820, 840, 800
    assert signals.compute_baselines(service=service, now=NOW) == len(Metric.values)
    baseline = Baseline.objects.get(
        service=service, metric=Metric.P95_LATENCY, hour_of_week=signals.hour_of_week(NOW)
    )
    assert baseline.basis == "hour_of_week" and baseline.samples == 4
    assert baseline.median == 810 and baseline.mad == 10
    # Half-width max(3 x 1.4826 x 10, 10 % of 810, 50 ms) = 81 ms.
    assert baseline.low == pytest.approx(729) and baseline.high == pytest.approx(891)


def test_start_up_rule_pools_recent_hours_then_learns(service):
    history(service, weeks=0, hours_back=range(1, 8))  # 7 hours: too little history
    assert signals.compute_baselines(service=service, now=NOW) == 0
    history(service, weeks=0, hours_back=range(8, 14))  # 13 hours in the last 7 days
    assert signals.compute_baselines(service=service, now=NOW) == 168 * len(Metric.values)
    assert set(Baseline.objects.values_list("basis", flat=True)) == {"pooled"}


def test_latency_anomaly_opens_one_low_severity_incident_with_the_band_and_resolves(
    service, endpoint
):
    history(service, weeks=4)
    signals.compute_baselines(service=service, now=NOW)
    spend(endpoint, "0.01", n=40, latency=2500)  # p95 2500 ms against a band up to 891 ms
    assert signals.check_anomalies(service=service, now=NOW) == {Metric.P95_LATENCY: "opened"}
    assert signals.check_anomalies(service=service, now=NOW) == {}
    incident = Incident.objects.get(service=service, dedup_key=f"llm-anomaly:{Metric.P95_LATENCY}")
    assert incident.severity == 1
    assert "is 2500 ms" in incident.summary and "729 ms to 891 ms" in incident.summary
    assert list(incident.timeline.values_list("kind", flat=True)) == ["opened"]

    later = NOW + timedelta(weeks=1)  # the same hour of the week, back to normal
    spend(endpoint, "0.01", at=later, n=40, latency=820)
    assert signals.check_anomalies(service=service, now=later) == {Metric.P95_LATENCY: "resolved"}
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert "back within 729 ms to 891 ms" in incident.resolution_note


def test_too_few_calls_are_not_judged(service, endpoint, settings):
    history(service, weeks=4)
    signals.compute_baselines(service=service, now=NOW)
    spend(endpoint, "0.01", n=settings.LLM_ANOMALY_MIN_CALLS - 1, latency=9000)
    assert signals.check_anomalies(service=service, now=NOW) == {}
    assert not Incident.objects.filter(service=service).exists()


def test_hourly_metrics_are_recorded_from_telemetry(service, endpoint):
    spend(endpoint, "0.02", at=NOW.replace(minute=0) - timedelta(minutes=1), n=10, latency=500)
    assert signals.record_hours(service=service, now=NOW) == 1
    hour = ServiceHour.objects.get(service=service)
    assert hour.hour == NOW.replace(minute=0) - timedelta(hours=1)
    assert hour.calls == 10
    assert hour.values[Metric.P95_LATENCY] == 500
    assert hour.values[Metric.COST_PER_HOUR] == pytest.approx(0.2)
    assert hour.values[Metric.TOKENS_PER_CALL] == 120
