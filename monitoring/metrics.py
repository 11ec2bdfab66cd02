"""/metrics: Prometheus exposition computed from the database at scrape time.

gunicorn runs several worker processes, so in-process counters would each see a fraction of
the traffic. Instead every scrape asks the database through the metric sources registered here.
To add a metric, register a function that yields metric families:

    from monitoring.metrics import register_metric_source

    @register_metric_source
    def ingested_alerts():
        family = CounterMetricFamily("vigil_ingested_alerts", "...", labels=["source"])
        ...
        yield family
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)

MetricSource = Callable[[], Iterable[Metric]]
_sources: dict[str, MetricSource] = {}

# Seconds; the usual blackbox-exporter-like spread up to the longest probe timeout.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)
LATENCY_WINDOW = timedelta(minutes=5)


def register_metric_source(source: MetricSource, name: str | None = None) -> MetricSource:
    _sources[name or f"{source.__module__}.{source.__qualname__}"] = source
    return source


class _DatabaseCollector:
    def collect(self) -> Iterable[Metric]:
        for name, source in list(_sources.items()):
            try:
                yield from source()
            except Exception:  # one broken source must not hide the others
                log.exception("metric source %s failed", name)


registry = CollectorRegistry(auto_describe=False)
registry.register(_DatabaseCollector())


def exposition(accept_header: str) -> tuple[bytes, str]:
    encoder, content_type = choose_encoder(accept_header)
    return encoder(registry), content_type


# --- the sources of this app --------------------------------------------------------------


@register_metric_source
def probe_states() -> Iterable[Metric]:
    from monitoring.models import Probe, ProbeState

    by_state = GaugeMetricFamily("vigil_probes", "HTTP probes by state.", labels=["state"])
    counts = dict(
        Probe.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    for state in ProbeState.values:
        by_state.add_metric([state], counts.get(state, 0))
    yield by_state

    up = GaugeMetricFamily(
        "vigil_probe_up",
        "1 while the probe answers (up or degraded), 0 while down; paused and new probes absent.",
        labels=["probe_id", "probe", "service"],
    )
    rows = (
        Probe.objects.filter(state__in=[ProbeState.UP, ProbeState.DEGRADED, ProbeState.DOWN])
        .values_list("pk", "name", "service__slug", "state")
        .order_by("pk")
    )
    for pk, name, service, state in rows.iterator(chunk_size=5000):
        up.add_metric([str(pk), name, service], 0 if state == ProbeState.DOWN else 1)
    yield up


@register_metric_source
def probe_latency() -> Iterable[Metric]:
    from monitoring.models import ProbeResult

    since = timezone.now() - LATENCY_WINDOW
    aggregates = {
        f"le_{i}": Count("id", filter=Q(latency_ms__lte=int(bound * 1000)))
        for i, bound in enumerate(LATENCY_BUCKETS)
    }
    rows = (
        ProbeResult.objects.filter(at__gte=since, latency_ms__isnull=False)
        .values("probe__service__slug")
        .annotate(total=Count("id"), sum_ms=Sum("latency_ms"), **aggregates)
    )
    family = GaugeHistogramMetricFamily(
        "vigil_probe_latency_seconds",
        f"Latency of the probe runs of the last {int(LATENCY_WINDOW.total_seconds())} s, per service.",
        labels=["service"],
    )
    for row in rows:
        buckets = [(str(bound), row[f"le_{i}"]) for i, bound in enumerate(LATENCY_BUCKETS)]
        buckets.append(("+Inf", row["total"]))
        family.add_metric(
            [row["probe__service__slug"]], buckets, gsum_value=(row["sum_ms"] or 0) / 1000
        )
    yield family


@register_metric_source
def open_incidents() -> Iterable[Metric]:
    from incidents.models import Incident, Severity

    counts = dict(
        Incident.objects.open()
        .values_list("severity")
        .annotate(n=Count("id"))
        .values_list("severity", "n")
    )
    family = GaugeMetricFamily(
        "vigil_open_incidents", "Incidents not yet resolved, by severity.", labels=["severity"]
    )
    for severity in Severity.values:
        family.add_metric([str(severity)], counts.get(severity, 0))
    yield family


@register_metric_source
def ingested_alerts() -> Iterable[Metric]:
    from incidents.models import Alert, InboundEvent, IntegrationKind

    delivered = dict(
        Alert.objects.values_list("integration__kind")
        .annotate(n=Sum("count"))
        .values_list("integration__kind", "n")
    )
    family = CounterMetricFamily(
        "vigil_ingested_alerts",
        "Alert notifications received (each repeat counts), by sender kind.",
        labels=["kind"],
    )
    for kind in IntegrationKind.values:
        family.add_metric([kind], delivered.get(kind) or 0)
    yield family
    # Accepted deliveries not yet turned into alerts: a growing backlog means too few ingest
    # workers (or none running).
    yield GaugeMetricFamily(
        "vigil_ingest_backlog",
        "Accepted webhook deliveries waiting to be applied.",
        value=InboundEvent.objects.pending().count(),
    )
    # Deliveries that could not be applied in full (kept for a human; see the admin).
    yield GaugeMetricFamily(
        "vigil_ingest_parked",
        "Webhook deliveries parked after every attempt to apply them failed.",
        value=InboundEvent.objects.parked().count(),
    )


@register_metric_source
def heartbeats() -> Iterable[Metric]:
    from monitoring.models import Heartbeat, ProbeState

    rows = Heartbeat.objects.values_list("state").annotate(n=Count("id"), pings=Sum("ping_count"))
    by_state = {state: (n, pings or 0) for state, n, pings in rows}
    states = GaugeMetricFamily("vigil_heartbeats", "Push heartbeats by state.", labels=["state"])
    for state in ProbeState.values:
        if state != ProbeState.DEGRADED:
            states.add_metric([state], by_state.get(state, (0, 0))[0])
    yield states
    yield CounterMetricFamily(
        "vigil_heartbeat_pings",
        "Pings received by all heartbeats since they were created.",
        value=sum(received for _, received in by_state.values()),
    )


@register_metric_source
def scheduler() -> Iterable[Metric]:
    from monitoring.models import SchedulerTick

    family = GaugeMetricFamily(
        "vigil_scheduler_last_tick_timestamp_seconds",
        "Unix time of the last completed run of each scheduler loop.",
        labels=["loop"],
    )
    for name, at in SchedulerTick.objects.values_list("name", "at"):
        family.add_metric([name], at.timestamp())
    yield family


@register_metric_source
def event_dispatch() -> Iterable[Metric]:
    """Domain-event outbox backlog and failures by receiver (incidents.outbox)."""
    from incidents.outbox import metric_families

    yield from metric_families()
