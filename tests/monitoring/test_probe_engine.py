from __future__ import annotations

import pytest
from django.utils import timezone

from incidents.actors import Actor
from incidents.models import Incident, Source, Status
from monitoring import engine
from monitoring.models import ErrorCategory, ProbeResult, ProbeState
from tests.monitoring.factories import ProbeFactory

pytestmark = pytest.mark.django_db


def run(probe):
    """One run of the real engine: claim-free batch of one, recorded like a worker does."""
    engine.run_batch([probe.pk], claimed_at=timezone.now())
    probe.refresh_from_db()
    return probe.results.order_by("-at", "-id").first()


def timeline(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def test_gone_target_opens_incident_after_two_failures_and_recovery_resolves_it(target, service):
    probe = ProbeFactory(service=service, url=target.url, name="sales-avatar")
    assert run(probe).ok and probe.state == ProbeState.UP

    target.gone()
    result = run(probe)
    assert result.error == ErrorCategory.REFUSED
    assert probe.state == ProbeState.UP and not Incident.objects.exists()

    result = run(probe)
    assert probe.state == ProbeState.DOWN and probe.consecutive_failures == 2
    incident = Incident.objects.get()
    assert incident.dedup_key == f"probe:{probe.pk}"
    assert incident.source == Source.PROBE
    assert incident.severity == 4
    assert incident.title == "sales-avatar is down"
    assert f"GET {target.url} failed 2 checks in a row" in incident.summary
    assert "connection refused" in incident.summary

    run(probe)  # still down: no second incident, no new timeline entry
    assert Incident.objects.count() == 1 and timeline(incident) == ["opened"]

    target.back()
    run(probe)
    incident.refresh_from_db()
    assert probe.state == ProbeState.DOWN and incident.status == Status.TRIGGERED
    run(probe)
    incident.refresh_from_db()
    assert probe.state == ProbeState.UP
    assert incident.status == Status.RESOLVED
    assert timeline(incident) == ["opened", "resolved"]
    resolved = incident.timeline.get(kind="resolved")
    assert resolved.actor_kind == "probe" and resolved.actor_label == "sales-avatar"
    assert "recovered automatically: 2 checks good in a row" in resolved.message
    assert ProbeResult.objects.filter(probe=probe).count() == 6


def test_failing_target_summary_names_the_status(target, service):
    probe = ProbeFactory(service=service, url=target.url, failures_to_open=1)
    target.mode = "failing"
    result = run(probe)
    assert result.error == ErrorCategory.STATUS and result.status_code == 500
    incident = Incident.objects.get()
    assert "status 500, expected 200-299" in incident.summary


def test_slow_target_opens_degraded_incident_with_lower_severity(target, service):
    probe = ProbeFactory(service=service, url=target.url, latency_threshold_ms=200)
    target.mode, target.slow_seconds = "slow", 0.4
    assert run(probe).error == ErrorCategory.SLOW
    result = run(probe)
    assert result.ok and result.latency_ms >= 400
    assert probe.state == ProbeState.DEGRADED
    incident = Incident.objects.get()
    assert incident.severity == 2 and incident.title.endswith("is slow")
    assert "threshold of 200 ms" in incident.summary

    # Worse: it stops answering. The same incident is raised to the down severity.
    target.mode = "failing"
    run(probe)
    run(probe)
    incident.refresh_from_db()
    assert probe.state == ProbeState.DOWN and Incident.objects.count() == 1
    assert incident.severity == 4
    assert timeline(incident) == ["opened", "repeated", "severity_changed"]

    target.mode = "healthy"
    run(probe)
    run(probe)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_trickling_body_fails_at_the_deadline_not_later(target, service):
    probe = ProbeFactory(service=service, url=target.url, timeout_seconds=1.0)
    target.mode = "trickling"
    result = run(probe)
    assert result.error == ErrorCategory.TIMEOUT
    assert "no complete answer within 1 s" in result.message
    # The body never ends; the run stops at its 1 s deadline (generous upper bound for CI).
    assert 1000 <= result.latency_ms < 3000


def test_hanging_target_times_out(target, service):
    probe = ProbeFactory(service=service, url=target.url, timeout_seconds=0.5)
    target.mode = "hanging"
    result = run(probe)
    assert not result.ok and result.error == ErrorCategory.TIMEOUT


@pytest.mark.parametrize(
    ("settings_of_probe", "body", "ok", "message"),
    [
        ({"expected_text": "healthy"}, "all healthy", True, ""),
        ({"expected_text": "healthy"}, "sick", False, "body does not contain 'healthy'"),
        (
            {"expected_json_path": "data.status", "expected_json_value": "ok"},
            '{"data": {"status": "ok"}}',
            True,
            "",
        ),
        (
            {"expected_json_path": "data.status", "expected_json_value": "ok"},
            '{"data": {"status": "down"}}',
            False,
            "data.status is 'down', expected 'ok'",
        ),
        (
            {"expected_json_path": "models.0.ready", "expected_json_value": "true"},
            '{"models": [{"ready": true}]}',
            True,
            "",
        ),
        ({"expected_json_path": "data.status"}, "not json", False, "body is not JSON"),
    ],
)
def test_content_checks(target, service, settings_of_probe, body, ok, message):
    probe = ProbeFactory(service=service, url=target.url, **settings_of_probe)
    target.body = body
    result = run(probe)
    assert result.ok is ok
    assert result.message == message
    if not ok:
        assert result.error == ErrorCategory.CONTENT


def test_expected_status_range(target, service):
    probe = ProbeFactory(service=service, url=target.url, expected_status="500-503")
    target.mode = "failing"
    assert run(probe).ok


def test_many_probes_in_one_batch_use_constant_queries(
    target, service, django_assert_max_num_queries
):
    probes = [ProbeFactory(service=service, url=target.url) for _ in range(30)]
    # 6, plus one on a cold cache: the game days' running-probe lookup (cached afterwards).
    with django_assert_max_num_queries(7):
        changed = engine.run_batch([p.pk for p in probes], claimed_at=timezone.now())
    assert len(changed) == 30  # new -> up
    assert ProbeResult.objects.count() == 30


def test_redelivered_batch_records_nothing_twice(target, service):
    probe = ProbeFactory(service=service, url=target.url)
    claimed_at = timezone.now()
    engine.run_batch([probe.pk], claimed_at=claimed_at)
    engine.run_batch([probe.pk], claimed_at=claimed_at)
    assert ProbeResult.objects.filter(probe=probe).count() == 1


def test_paused_probe_is_neither_claimed_nor_run(target, service):
    from monitoring import services

    probe = ProbeFactory(service=service, url=target.url)
    services.pause_probe(probe=probe, actor=Actor.system("tests"))
    assert engine.claim_due_probes(now=timezone.now(), limit=100) == []
    engine.run_batch([probe.pk], claimed_at=timezone.now())
    assert target.hits == 0
    probe = services.resume_probe(probe=probe, actor=Actor.system("tests"))
    assert probe.state == ProbeState.NEW
    assert engine.claim_due_probes(now=timezone.now(), limit=100) == [probe.pk]


def test_incident_resolved_by_hand_is_not_reopened_while_still_down(target, service):
    from incidents import services as incident_services
    from incidents.actors import Actor

    probe = ProbeFactory(service=service, url=target.url, failures_to_open=1)
    target.gone()
    run(probe)
    incident = Incident.objects.get()
    incident_services.resolve(incident=incident, actor=Actor.system("test"))
    run(probe)
    assert Incident.objects.count() == 1
    target.back()
    run(probe)
    run(probe)
    assert probe.state == ProbeState.UP
