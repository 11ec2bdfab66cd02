"""Vigil's own health on /metrics: apply lag, deliveries by outcome, probe engine throughput
and lag, escalation sweep lag, self-watch ticks, backups and the age of every backup job.

Registered with ``monitoring.metrics.register_metric_source``; each source is a few grouped
queries at scrape time. deploy/grafana/vigil.json and deploy/prometheus/vigil-rules.yml are
built on these names (tests/ops/test_dashboards.py checks that every name they use exists).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.metrics import register_metric_source

THROUGHPUT_WINDOW = timedelta(minutes=5)


@register_metric_source
def ingest_apply_lag() -> Iterable[Metric]:
    from incidents import backpressure

    backlog = backpressure.measure()  # fresh at every scrape: one aggregate query
    yield GaugeMetricFamily(
        "vigil_ingest_apply_lag_seconds",
        "Age of the oldest accepted webhook delivery not yet applied (0 when none waits).",
        value=backlog.oldest_age_seconds,
    )
    yield GaugeMetricFamily(
        "vigil_ingest_backpressure",
        "1 while the backlog is over INGEST_BACKLOG_SHED_DEPTH or INGEST_BACKLOG_SHED_AGE_SECONDS "
        "and work that can wait (rollups, retention, non-urgent sweeps) is deferred.",
        value=1.0 if backlog.over_bound else 0.0,
    )


@register_metric_source
def deliveries() -> Iterable[Metric]:
    from oncall.models import Notification

    rows = Notification.objects.values_list("kind", "status").annotate(n=Count("id"))
    # A gauge: rows move from queued to sent or failed, and retention may delete old ones.
    family = GaugeMetricFamily(
        "vigil_notification_deliveries",
        "Notification rows by channel kind and outcome (queued, sending, sent, failed, cancelled).",
        labels=["kind", "outcome"],
    )
    for kind, status, n in rows:
        family.add_metric([kind, status], n)
    yield family


@register_metric_source
def probe_engine() -> Iterable[Metric]:
    from monitoring.models import Probe, ProbeResult

    now = timezone.now()
    runs = ProbeResult.objects.filter(at__gte=now - THROUGHPUT_WINDOW).count()
    yield GaugeMetricFamily(
        "vigil_probe_runs_per_second",
        f"Probe runs per second over the last {int(THROUGHPUT_WINDOW.total_seconds())} s.",
        value=runs / THROUGHPUT_WINDOW.total_seconds(),
    )
    overdue = Probe.objects.filter(paused=False, next_due_at__lte=now).aggregate(
        m=Min("next_due_at"), n=Count("id")
    )
    yield GaugeMetricFamily(
        "vigil_probe_lag_seconds",
        "How long the most overdue probe has been waiting past its due time.",
        value=(now - overdue["m"]).total_seconds() if overdue["m"] else 0.0,
    )
    yield GaugeMetricFamily(
        "vigil_probes_overdue", "Probes past their due time, not yet run.", value=overdue["n"]
    )


@register_metric_source
def escalation_sweep() -> Iterable[Metric]:
    from oncall.models import EscalationState

    now = timezone.now()
    oldest = EscalationState.objects.due(now).aggregate(m=Min("next_due_at"))["m"]
    yield GaugeMetricFamily(
        "vigil_escalation_sweep_lag_seconds",
        "How long the most overdue escalation step has been waiting for the sweep.",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )


@register_metric_source
def selfwatch_ticks() -> Iterable[Metric]:
    from ops import selfwatch

    values = cache.get_many([selfwatch.BEAT_KEY, selfwatch.WORKER_KEY, selfwatch.PING_KEY])
    family = GaugeMetricFamily(
        "vigil_selfwatch_last_tick_timestamp_seconds",
        "Unix time beat last sent, and a worker last ran, the self-watch tick.",
        labels=["part"],
    )
    for part, key in (("beat", selfwatch.BEAT_KEY), ("worker", selfwatch.WORKER_KEY)):
        family.add_metric([part], float(values.get(key) or 0))
    yield family
    ping = values.get(selfwatch.PING_KEY) or {}
    yield GaugeMetricFamily(
        "vigil_selfwatch_dead_mans_switch_ok",
        "1 when the last dead-man's-switch ping succeeded, 0 when it failed.",
        value=1.0 if ping.get("ok", True) else 0.0,
    )


@register_metric_source
def backups() -> Iterable[Metric]:
    from monitoring.models import PingKind
    from ops.backup import backups_in
    from ops.models import BackupJob

    latest = 0.0
    found = backups_in(Path(settings.BACKUP_DIR)) if Path(settings.BACKUP_DIR).exists() else []
    if found:
        try:
            created = json.loads(Path(f"{found[-1]}.json").read_text())["created_at"]
            latest = datetime.fromisoformat(created).timestamp()
        except (OSError, ValueError, KeyError):
            latest = 0.0
    from ops.tasks import LAST_BACKUP_KEY

    # The scheduled backup runs on any worker host: it also notes its time in the shared cache.
    latest = max(latest, float(cache.get(LAST_BACKUP_KEY) or 0.0))
    yield GaugeMetricFamily(
        "vigil_backup_last_success_timestamp_seconds",
        "Unix time of the newest backup of Vigil's own database, in BACKUP_DIR here or made by "
        "the scheduled backup on any worker host (0: none).",
        value=latest,
    )
    now = timezone.now()
    jobs = BackupJob.objects.select_related("heartbeat__service").annotate(
        last_good=Max("heartbeat__pings__at", filter=Q(heartbeat__pings__kind=PingKind.SUCCESS))
    )
    age = GaugeMetricFamily(
        "vigil_backup_job_age_seconds",
        "Age of each backup job's last good backup (since it was watched when it has none).",
        labels=["service", "job"],
    )
    rpo = GaugeMetricFamily(
        "vigil_backup_job_rpo_seconds", "The service's RPO for each backup job.",
        labels=["service", "job"],
    )  # fmt: skip
    for job in jobs:
        labels = [job.heartbeat.service.slug, job.heartbeat.name]
        age.add_metric(labels, (now - (job.last_good or job.created_at)).total_seconds())
        if job.heartbeat.service.rpo_minutes is not None:
            rpo.add_metric(labels, job.heartbeat.service.rpo_minutes * 60.0)
    yield age
    yield rpo
