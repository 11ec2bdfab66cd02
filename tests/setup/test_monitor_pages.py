"""Probes and heartbeats set up in the browser, the probe page's numbers, /monitors/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from monitoring import stats
from monitoring.models import Heartbeat, HeartbeatPing, Probe, ProbeResult, ProbeState
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def _probe_form(url="https://example.com/health", **overrides):
    data = {
        "name": "health", "method": "GET", "url": url, "headers": "{}", "body": "",
        "expected_status": "200-299", "expected_text": "", "expected_json_path": "",
        "expected_json_value": "", "timeout_seconds": "5", "interval_seconds": "30",
        "latency_threshold_ms": "800", "failures_to_open": "2", "successes_to_recover": "2",
        "severity_down": "4", "severity_degraded": "2",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_manager_creates_edits_pauses_resumes_and_deletes_a_probe(service, manager):
    client = client_for(manager)
    response = client.post(f"/services/{service.slug}/probes/new/", _probe_form())
    assert response.status_code == 303
    probe = Probe.objects.get(service=service, name="health")
    assert (probe.interval_seconds, probe.latency_threshold_ms) == (30, 800)
    version = client.get(f"/monitors/probes/{probe.pk}/edit/").context["form"].initial["version"]
    response = client.post(
        f"/monitors/probes/{probe.pk}/edit/",
        _probe_form(interval_seconds="60", version=version),
    )
    assert response.status_code == 303
    probe.refresh_from_db()
    assert probe.interval_seconds == 60
    assert client.post(f"/monitors/probes/{probe.pk}/pause/").status_code == 303
    probe.refresh_from_db()
    assert probe.paused and probe.state == ProbeState.PAUSED
    assert client.post(f"/monitors/probes/{probe.pk}/resume/").status_code == 303
    probe.refresh_from_db()
    assert not probe.paused and probe.state == ProbeState.NEW
    assert client.post(f"/monitors/probes/{probe.pk}/delete/").status_code == 303
    assert not Probe.objects.filter(pk=probe.pk).exists()
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"probe.created", "probe.updated", "probe.paused", "probe.resumed",
            "probe.deleted"} <= actions  # fmt: skip


def test_ssrf_guard_message_is_shown_next_to_the_url(service, manager):
    response = client_for(manager).post(
        f"/services/{service.slug}/probes/new/", _probe_form(url="http://127.0.0.1:9/health")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="id_url_error"' in body and "SSRF guard" in body
    assert 'value="http://127.0.0.1:9/health"' in body
    assert not Probe.objects.exists()


def test_model_rules_are_the_apis_rules(service, manager):
    response = client_for(manager).post(
        f"/services/{service.slug}/probes/new/",
        _probe_form(interval_seconds="5", timeout_seconds="999", expected_status="abc",
                    headers="[1, 2]"),
    )  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("interval_seconds", "timeout_seconds", "expected_status", "headers"):
        assert f'id="id_{field}_error"' in body, field


def test_timeout_longer_than_interval_is_refused_next_to_the_timeout(service, manager):
    response = client_for(manager).post(
        f"/services/{service.slug}/probes/new/",
        _probe_form(interval_seconds="20", timeout_seconds="30"),
    )
    assert response.status_code == 400
    assert 'id="id_timeout_seconds_error"' in response.content.decode()


def test_stale_probe_edit_is_refused(service, manager):
    probe = ProbeFactory(service=service, url="https://example.com/")
    client = client_for(manager)
    version = client.get(f"/monitors/probes/{probe.pk}/edit/").context["form"].initial["version"]
    Probe.objects.filter(pk=probe.pk).update(interval_seconds=120)
    response = client.post(
        f"/monitors/probes/{probe.pk}/edit/", _probe_form(name=probe.name, version=version)
    )
    assert response.status_code == 400
    assert "someone else changed it" in response.content.decode()
    probe.refresh_from_db()
    assert probe.interval_seconds == 120


def test_test_now_runs_one_check_and_records_nothing(service, manager, target):
    probe = ProbeFactory(service=service, url=target.url)
    response = client_for(manager).post(f"/monitors/probes/{probe.pk}/test/", **HTMX)
    assert response.status_code == 200
    assert "passed" in response.content.decode() and target.hits == 1
    assert not ProbeResult.objects.filter(probe=probe).exists()
    target.mode = "failing"
    response = client_for(manager).post(f"/monitors/probes/{probe.pk}/test/")
    assert response.status_code == 200 and "HTTP 500" in response.content.decode()


@pytest.mark.postgres
def test_probe_page_shows_the_percentiles_of_known_results(service, viewer):
    probe = ProbeFactory(service=service)
    now = timezone.now()
    # 100 results, latencies 1..100 ms: p50 50.5, p95 95.05, p99 99.01 (percentile_cont).
    ProbeResult.objects.bulk_create(
        ProbeResult(probe=probe, at=now - timedelta(seconds=30 * i), ok=i % 10 != 0,
                    latency_ms=i, error="" if i % 10 else "status")
        for i in range(1, 101)
    )  # fmt: skip
    stats.rollup_results(now=now, hours=2)
    response = client_for(viewer).get(f"/monitors/probes/{probe.pk}/")
    assert response.status_code == 200
    day = response.context["windows"]["24h"]
    assert (day.runs, day.failures) == (100, 10)
    assert (round(day.p50_ms, 2), round(day.p95_ms, 2), round(day.p99_ms, 2)) == (
        50.5, 95.05, 99.01)  # fmt: skip
    body = response.content.decode()
    assert '<polyline class="p95"' in body and 'class="threshold"' in body
    assert dict(response.context["errors"]) == {"status": 10}
    # The 50 minutes of results straddle midnight when the test runs just after it: count them
    # over the last two day buckets rather than today's alone.
    assert sum(day["runs"] for day in response.context["uptime"][-2:]) == 100
    assert len(response.context["uptime"]) == 90


def test_heartbeat_round_trip_and_ping_log(service, manager):
    client = client_for(manager)
    response = client.post(
        f"/services/{service.slug}/heartbeats/new/",
        {"name": "nightly backup", "period_seconds": "86400", "grace_seconds": "3600",
         "severity": "4"},
    )  # fmt: skip
    assert response.status_code == 303
    heartbeat = Heartbeat.objects.get(name="nightly backup")
    client_for().post(f"/ping/{heartbeat.uuid}/fail", b"disk full", content_type="text/plain")
    page = client.get(f"/monitors/heartbeats/{heartbeat.pk}/")
    body = page.content.decode()
    assert f"http://testserver/ping/{heartbeat.uuid}" in body
    assert "disk full" in body and "crontab" in body and "ExecStartPost" in body
    assert HeartbeatPing.objects.filter(heartbeat=heartbeat).count() == 1
    version = (
        client.get(f"/monitors/heartbeats/{heartbeat.pk}/edit/").context["form"].initial["version"]
    )
    response = client.post(
        f"/monitors/heartbeats/{heartbeat.pk}/edit/",
        {"name": "nightly backup", "period_seconds": "3600", "grace_seconds": "600",
         "severity": "3", "version": version},
    )  # fmt: skip
    assert response.status_code == 303
    heartbeat.refresh_from_db()
    assert (heartbeat.period_seconds, heartbeat.severity) == (3600, 3)
    assert client.post(f"/monitors/heartbeats/{heartbeat.pk}/pause/").status_code == 303
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.PAUSED
    assert client.post(f"/monitors/heartbeats/{heartbeat.pk}/resume/").status_code == 303
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.NEW
    assert client.post(f"/monitors/heartbeats/{heartbeat.pk}/delete/").status_code == 303
    assert not Heartbeat.objects.filter(pk=heartbeat.pk).exists()


def test_heartbeat_period_below_a_minute_is_a_field_error(service, manager):
    response = client_for(manager).post(
        f"/services/{service.slug}/heartbeats/new/",
        {"name": "x", "period_seconds": "5", "grace_seconds": "99999999999", "severity": "9"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    for field in ("period_seconds", "grace_seconds", "severity"):
        assert f'id="id_{field}_error"' in body, field


@pytest.mark.parametrize("action", ["pause", "resume", "delete", "test"])
def test_probe_writes_follow_the_house_rules(service, viewer, outsider, guarded, action):
    probe = ProbeFactory(service=service)
    guarded(f"/monitors/probes/{probe.pk}/{action}/", viewer=viewer, outsider=outsider)
    assert Probe.objects.filter(pk=probe.pk).exists()


@pytest.mark.parametrize("action", ["pause", "resume", "delete"])
def test_heartbeat_writes_follow_the_house_rules(service, viewer, outsider, guarded, action):
    heartbeat = HeartbeatFactory(service=service)
    guarded(f"/monitors/heartbeats/{heartbeat.pk}/{action}/", viewer=viewer, outsider=outsider)
    assert Heartbeat.objects.filter(pk=heartbeat.pk).exists()


@pytest.mark.parametrize(
    "url", ["/services/{slug}/probes/new/", "/services/{slug}/heartbeats/new/",
            "/monitors/probes/{probe}/edit/", "/monitors/heartbeats/{heartbeat}/edit/"],
)  # fmt: skip
def test_forms_refuse_viewers_and_other_teams(service, viewer, outsider, url):
    probe = ProbeFactory(service=service)
    heartbeat = HeartbeatFactory(service=service)
    url = url.format(slug=service.slug, probe=probe.pk, heartbeat=heartbeat.pk)
    assert client_for(viewer).get(url).status_code == 403
    assert client_for(viewer).post(url, {}).status_code == 403
    assert client_for(outsider).get(url).status_code == 404
    assert client_for().get(url).status_code == 302


def test_monitors_overview_filters_and_paginates(service, viewer):
    for n in range(60):
        ProbeFactory(service=service, name=f"probe {n:02d}", state=ProbeState.UP)
    ProbeFactory(service=service, name="the broken one", state=ProbeState.DOWN)
    client = client_for(viewer)
    first = client.get("/monitors/")
    assert first.status_code == 200 and len(first.context["rows"]) == 50
    assert first.context["page"].paginator.count == 61
    down = client.get("/monitors/?state=down")
    assert [p.name for p, _ in down.context["rows"]] == ["the broken one"]
    assert client.get("/monitors/?page=2").context["page"].number == 2
    assert client.get("/monitors/?state=bogus").status_code == 400


def test_monitors_overview_costs_a_constant_number_of_queries(
    service, viewer, django_assert_max_num_queries
):
    for _ in range(30):
        ProbeFactory(service=service)
        HeartbeatFactory(service=service)
    client = client_for(viewer)
    with django_assert_max_num_queries(12):
        assert client.get("/monitors/").status_code == 200
