from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from monitoring import stats
from monitoring.models import ProbeResult, ProbeRollup, ProbeState
from tests.factories import IncidentFactory
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db


def samples(response):
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_from_the_database(client, service):
    up = ProbeFactory(service=service, state=ProbeState.UP)
    down = ProbeFactory(service=service, state=ProbeState.DOWN)
    now = timezone.now()
    ProbeResult.objects.bulk_create(
        [ProbeResult(probe=up, at=now, ok=True, latency_ms=ms) for ms in (40, 200, 2500)]
    )
    IncidentFactory(service=service, severity=4)
    HeartbeatFactory(service=service, state=ProbeState.UP, ping_count=7)

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response)
    assert found[("vigil_probes", (("state", "up"),))] == 1
    assert found[("vigil_probes", (("state", "down"),))] == 1
    labels = (("probe", down.name), ("probe_id", str(down.pk)), ("service", service.slug))
    assert found[("vigil_probe_up", labels)] == 0
    assert found[("vigil_open_incidents", (("severity", "4"),))] == 1
    assert found[("vigil_heartbeats", (("state", "up"),))] == 1
    assert found[("vigil_heartbeat_pings_total", ())] == 7
    body = response.content.decode()
    bucket = "vigil_probe_latency_seconds_bucket"
    assert f'{bucket}{{le="0.05",service="{service.slug}"}} 1.0' in body
    assert f'{bucket}{{le="3",service="{service.slug}"}} 3.0' in body


def test_metrics_token(client, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_a_registered_metric_source_is_exposed(client):
    from prometheus_client.core import GaugeMetricFamily

    from monitoring import metrics

    def ingested():
        yield GaugeMetricFamily("vigil_test_extra", "extra", value=3)

    metrics.register_metric_source(ingested, name="test-extra")
    try:
        assert samples(client.get("/metrics"))[("vigil_test_extra", ())] == 3
    finally:
        metrics._sources.pop("test-extra")


def _results(probe, now, latencies_by_age):
    ProbeResult.objects.bulk_create(
        [
            ProbeResult(probe=probe, at=now - age, ok=ok, latency_ms=ms)
            for age, ms, ok in latencies_by_age
        ]
    )


def test_percentiles_and_error_rate_per_window(service):
    probe = ProbeFactory(service=service)
    now = timezone.now()
    recent = [(timedelta(minutes=i + 1), (i + 1) * 10, i != 0) for i in range(10)]  # 10..100 ms
    older = [(timedelta(hours=5), 1000, False), (timedelta(days=3), 5000, True)]
    _results(probe, now, recent + older + [(timedelta(days=9), 9999, False)])

    result = stats.probe_stats(probe, now=now)
    assert result["1h"].runs == 10 and result["1h"].failures == 1
    assert result["1h"].error_rate == pytest.approx(0.1)
    assert result["1h"].p50_ms == pytest.approx(55)
    assert result["1h"].p95_ms == pytest.approx(95.5)
    assert result["24h"].runs == 11 and result["24h"].failures == 2
    assert result["7d"].runs == 12
    assert result["7d"].p99_ms == pytest.approx(4560.0)


def test_hourly_rollup_is_an_idempotent_upsert(service):
    probe = ProbeFactory(service=service)
    now = timezone.now().replace(minute=30)
    _results(probe, now, [(timedelta(minutes=i), 100 + i, i % 4 != 0) for i in range(20)])
    stats.rollup_results(now=now)
    stats.rollup_results(now=now)
    rollup = ProbeRollup.objects.get(probe=probe)
    assert rollup.runs == 20 and rollup.failures == 5
    assert rollup.hour == now.replace(minute=0, second=0, microsecond=0)
    assert rollup.latency_max_ms == 119
    assert rollup.latency_p50_ms == pytest.approx(109.5)


def test_retention_purge(service, settings, client):
    settings.PROBE_RESULT_RETENTION_DAYS = 30
    probe = ProbeFactory(service=service)
    heartbeat = HeartbeatFactory(service=service)
    now = timezone.now()
    _results(probe, now, [(timedelta(days=31), 10, True), (timedelta(days=29), 10, True)])
    client.get(f"/ping/{heartbeat.uuid}")
    heartbeat.pings.update(at=now - timedelta(days=40))
    assert stats.purge_old_results(now=now) == 2
    assert ProbeResult.objects.count() == 1 and not heartbeat.pings.exists()
