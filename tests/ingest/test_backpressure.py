"""Back-pressure: past the backlog bound alerts are still accepted (2xx, durable), work that can
wait is deferred and says so once, and /metrics, /readyz and the board show the backlog."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from incidents import backpressure
from incidents.models import InboundEvent
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = pytest.mark.django_db

NOW = "2026-11-29 22:00:00"


@pytest.fixture(autouse=True)
def bounds(settings):
    settings.INGEST_BACKLOG_SHED_DEPTH = 3
    settings.INGEST_BACKLOG_SHED_AGE_SECONDS = 60
    settings.INGEST_BACKLOG_CHECK_SECONDS = 5
    settings.INGEST_APPLY_INLINE = False
    backpressure._deferring.clear()
    yield settings
    backpressure._deferring.clear()


@pytest.fixture
def memory_broker():
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "memory://"
    yield
    app.conf.broker_url = previous


def _pending(service, count: int, *, age_seconds: float = 1.0) -> list[InboundEvent]:
    from incidents.models import Integration

    integration = Integration.objects.filter(service=service, kind="generic").first()
    integration = integration or make_integration(service, "generic")[0]
    received = timezone.now() - timedelta(seconds=age_seconds)
    return InboundEvent.objects.bulk_create(
        InboundEvent(integration=integration, received_at=received, normalized={})
        for _ in range(count)
    )


def _drain() -> None:
    from django.core.cache import cache

    InboundEvent.objects.pending().update(processed_at=timezone.now())
    cache.delete(backpressure.CACHE_KEY)


@freeze_time(NOW)
def test_backlog_is_its_depth_and_the_age_of_its_oldest_delivery(service):
    assert backpressure.measure() == backpressure.Backlog(depth=0, oldest_age_seconds=0.0)
    _pending(service, 2, age_seconds=10)
    _pending(service, 1, age_seconds=45)
    applied = _pending(service, 1, age_seconds=500)
    InboundEvent.objects.filter(pk=applied[0].pk).update(processed_at=timezone.now())
    assert backpressure.measure() == backpressure.Backlog(depth=3, oldest_age_seconds=45.0)


@pytest.mark.parametrize(
    ("depth", "age", "over"),
    [(3, 10.0, False), (4, 10.0, True), (1, 60.0, False), (1, 61.0, True)],
)
def test_over_bound_when_deeper_or_older_than_configured(depth, age, over):
    assert backpressure.Backlog(depth, age).over_bound is over


def test_a_zero_bound_is_off(settings):
    settings.INGEST_BACKLOG_SHED_DEPTH = 0
    settings.INGEST_BACKLOG_SHED_AGE_SECONDS = 0
    assert not backpressure.Backlog(10**9, 10.0**9).over_bound


def test_the_measurement_is_shared_through_the_cache(service, django_assert_num_queries):
    _pending(service, 4)
    with django_assert_num_queries(1):
        assert backpressure.current().depth == 4
    _pending(service, 4)
    with django_assert_num_queries(0):  # until INGEST_BACKLOG_CHECK_SECONDS pass
        assert backpressure.current().depth == 4


def test_over_the_bound_webhooks_are_still_accepted_and_kept(service, post_json):
    _pending(service, 10)
    assert backpressure.current().over_bound
    _, token = make_integration(service, "alertmanager")
    response = post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert response.status_code == 202
    assert InboundEvent.objects.pending().count() == 11


def _sheddable(monkeypatch) -> dict:
    """Every task that can wait, with the service call it would make recorded instead."""
    from drills import tasks as drill_tasks
    from incidents import tasks as incident_tasks
    from llm import tasks as llm_tasks
    from monitoring import tasks as monitoring_tasks
    from ops import tasks as ops_tasks

    calls: list[str] = []

    def record(name):
        def call(*args, **kwargs):
            calls.append(name)
            return {} if name in ("drills", "rpo") else 0

        return call

    monkeypatch.setattr("monitoring.stats.rollup_results", record("probe rollups"))
    monkeypatch.setattr("monitoring.stats.purge_old_results", record("probe retention"))
    monkeypatch.setattr("llm.telemetry.rollup_since", record("telemetry rollups"))
    monkeypatch.setattr(
        "llm.signals.services_with_telemetry", lambda *a: calls.append("hours") or []
    )
    monkeypatch.setattr("llm.telemetry.purge_old", record("telemetry retention"))
    monkeypatch.setattr("incidents.outbox.prune_dispatched", record("outbox retention"))
    monkeypatch.setattr("incidents.ingest.services.prune_old_events", record("delivery retention"))
    monkeypatch.setattr("drills.services.run_due_drills", record("drills"))
    monkeypatch.setattr("ops.rpo.check_all", record("rpo"))
    tasks = [
        monitoring_tasks.rollup_probe_results,
        monitoring_tasks.purge_old_probe_results,
        llm_tasks.rollup_telemetry,
        llm_tasks.record_hours_and_baselines,
        llm_tasks.purge_old_telemetry,
        incident_tasks.prune_dispatched_events,
        incident_tasks.sweep_inbound_events,
        drill_tasks.run_due_drills,
        ops_tasks.check_rpo,
    ]
    return {"calls": calls, "tasks": tasks}


def test_work_that_can_wait_is_deferred_and_says_so_once(service, monkeypatch, caplog):
    shed = _sheddable(monkeypatch)
    monkeypatch.setattr("incidents.ingest.services.apply_pending_events", lambda: 0)
    _pending(service, 10)
    with caplog.at_level(logging.INFO, logger="incidents.backpressure"):
        for _ in range(3):
            for task in shed["tasks"]:
                task()
    assert shed["calls"] == []
    deferring = [r.getMessage() for r in caplog.records if "deferring" in r.getMessage()]
    assert len(deferring) == len(shed["tasks"])  # once each, not once per run
    assert any(
        "deferring probe rollups: 10 alert deliveries wait to be applied" in m for m in deferring
    )

    _drain()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="incidents.backpressure"):
        for task in shed["tasks"]:
            task()
    assert set(shed["calls"]) == {
        "probe rollups", "probe retention", "telemetry rollups", "hours",
        "telemetry retention", "outbox retention", "delivery retention", "drills", "rpo",
    }  # fmt: skip
    resumed = [r.getMessage() for r in caplog.records if "back under its bound" in r.getMessage()]
    assert len(resumed) == len(shed["tasks"])


def test_applying_alerts_and_urgent_sweeps_are_never_deferred(service, monkeypatch, post_json):
    from incidents import tasks as incident_tasks
    from incidents.models import Incident
    from monitoring import tasks as monitoring_tasks
    from oncall import tasks as oncall_tasks

    _, token = make_integration(service, "alertmanager")
    for n in range(5):
        body = am_group(am_alert(f"host-{n}"), group_key=f"group-{n}")
        assert post_json(f"/hooks/alertmanager/{token}", body).status_code == 202
    assert backpressure.current().over_bound
    assert incident_tasks.sweep_inbound_events() == 5  # the backlog itself is applied
    assert Incident.objects.filter(service=service).count() == 5
    ran = []
    monkeypatch.setattr(
        "monitoring.services.sweep_overdue_heartbeats", lambda: ran.append("heartbeats") or []
    )
    monitoring_tasks.sweep_overdue_heartbeats()
    oncall_tasks.sweep()
    assert ran == ["heartbeats"]


@freeze_time(NOW)
def test_readyz_is_degraded_not_failed_and_names_the_backlog(client, service, memory_broker):
    from django.core.cache import cache

    ok = client.get("/readyz").json()
    assert ok["checks"]["ingest_backpressure"] == "ok"
    _pending(service, 10, age_seconds=90)
    cache.delete(backpressure.CACHE_KEY)  # as INGEST_BACKLOG_CHECK_SECONDS passing would
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and "ingest_backpressure" in body["degraded"]
    assert body["checks"]["ingest_backpressure"].startswith(
        "10 alert deliveries wait to be applied, the oldest for 90 s"
    )
    assert (
        "rollups, retention and non-urgent sweeps are deferred"
        in (body["checks"]["ingest_backpressure"])
    )


def test_metrics_show_backlog_depth_age_and_whether_work_is_shed(client, service):
    _pending(service, 10, age_seconds=90)
    text = client.get("/metrics").content.decode()
    assert "vigil_ingest_backlog 10.0" in text
    assert "vigil_ingest_backpressure 1.0" in text
    age = next(line for line in text.splitlines() if line.startswith("vigil_ingest_apply_lag"))
    assert 89 <= float(age.split()[1]) < 150
    _drain()
    text = client.get("/metrics").content.decode()
    assert "vigil_ingest_backlog 0.0" in text
    assert "vigil_ingest_backpressure 0.0" in text


@freeze_time(NOW)
def test_the_board_shows_a_banner_while_over_the_bound(client, responder, service):
    client.force_login(responder)
    assert "backlog-banner" not in client.get("/incidents/").content.decode()
    _pending(service, 10, age_seconds=90)
    from django.core.cache import cache

    cache.delete(backpressure.CACHE_KEY)
    html = client.get("/incidents/").content.decode()
    assert "backlog-banner" in html
    assert "Alert storm: 10 alert deliveries are waiting to be applied, the oldest for 90 s" in html
    assert "senders are not refused" in html
    _drain()
    assert "backlog-banner" not in client.get("/incidents/").content.decode()
