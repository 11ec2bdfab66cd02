"""Thin Celery tasks of the llm app. Each is safe to run twice (two beats, redelivery)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from incidents import backpressure
from llm import breaker, signals, telemetry, webhooks
from monitoring.models import SchedulerTick

ROLLUP_TICK = "llm-rollup"
# Events committed a little after their received_at (slow transactions) are still rolled up.
ROLLUP_MARGIN = timedelta(minutes=2)


@shared_task
def deliver_route_change(change_id: int) -> list[str]:
    return webhooks.deliver_change(change_id=change_id)


@shared_task
def sweep_route_deliveries() -> int:
    return webhooks.sweep_due_deliveries()


@shared_task
def sweep_breakers() -> int:
    return breaker.sweep_breakers()


@shared_task
def rollup_telemetry() -> int:
    if backpressure.defer("telemetry rollups"):
        return 0  # the next run rolls up from the last tick: nothing is skipped for good
    now = timezone.now()
    tick = SchedulerTick.objects.filter(name=ROLLUP_TICK).first()
    since = (tick.at if tick else now - timedelta(days=1)) - ROLLUP_MARGIN
    written = telemetry.rollup_since(since, now=now)
    SchedulerTick.objects.update_or_create(name=ROLLUP_TICK, defaults={"at": now})
    return written


@shared_task
def check_budgets() -> int:
    return signals.check_budgets()


@shared_task
def check_anomalies() -> int:
    now = timezone.now()
    judged = 0
    for service in signals.services_with_telemetry(now - timedelta(hours=1)):
        judged += len(signals.check_anomalies(service=service, now=now))
    return judged


@shared_task
def record_hours_and_baselines() -> int:
    if backpressure.defer("telemetry baselines"):
        return 0
    now = timezone.now()
    done = 0
    for service in signals.services_with_telemetry(now - timedelta(hours=3)):
        signals.record_hours(service=service, now=now)
        done += signals.compute_baselines(service=service, now=now)
    return done


@shared_task
def purge_old_telemetry() -> int:
    if backpressure.defer("telemetry retention"):
        return 0
    return telemetry.purge_old()
