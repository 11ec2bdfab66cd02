"""Breakers fed by real model probes against local servers in both wire formats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from llm import breaker
from llm.models import BreakerState, ModelProbeResult, Provider, RouteState
from llm.routing import recompute_route
from monitoring import engine
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


def probe(endpoint):
    """One run of the real probe engine for this endpoint, recorded like a worker does."""
    engine.run_kind_batch("model", [endpoint.pk], claimed_at=timezone.now())
    endpoint.refresh_from_db()
    return ModelProbeResult.objects.filter(endpoint=endpoint).order_by("-at", "-id").first()


@pytest.fixture
def chain(model_server, service):
    primary_server, secondary_server = model_server(), model_server()
    primary = ModelEndpointFactory(
        service=service, name="primary", tier=1, base_url=primary_server.openai_base
    )
    secondary = ModelEndpointFactory(
        service=service, name="secondary", tier=2, base_url=secondary_server.openai_base
    )
    recompute_route(service_id=service.pk, reason="set up")
    return primary, secondary, primary_server, secondary_server


def route_tier(service):
    return RouteState.objects.get(service=service).tier


def test_healthy_openai_probe_streams_and_measures_ttft(chain):
    primary, _, server, _ = chain
    result = probe(primary)
    assert result.outcome == "ok" and result.ok and not result.shadow
    assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    sent = server.requests[0]
    assert sent["body"]["stream"] is True and sent["body"]["model"] == primary.model
    assert primary.last_outcome == "ok" and primary.breaker_state == BreakerState.CLOSED


def test_slow_calls_open_the_breaker_only_after_the_minimum_number(chain, service):
    primary, _, server, _ = chain
    server.mode, server.delay = "slow", 0.5  # slow_call_ms is 300, minimum_calls 2
    first = probe(primary)
    assert first.outcome == "ok" and first.slow and first.latency_ms >= 500
    assert primary.breaker_state == BreakerState.CLOSED and route_tier(service) == 1
    probe(primary)
    assert primary.breaker_state == BreakerState.OPEN
    assert "2 of 2 calls took longer than 300 ms" in primary.breaker_reason
    assert route_tier(service) == 2


def test_primary_answering_in_5_s_times_out_at_the_probe_deadline(chain, service):
    primary, _, server, _ = chain
    primary.probe_timeout_seconds = 0.4
    primary.save()
    server.mode, server.delay = "slow", 5
    result = probe(primary)
    assert result.outcome == "timeout" and not result.ok
    assert result.latency_ms < 2000
    probe(primary)
    assert primary.breaker_state == BreakerState.OPEN
    assert "2 of 2 calls failed" in primary.breaker_reason
    assert route_tier(service) == 2


def test_anthropic_429_is_a_rate_limit_failure(model_server, service):
    server = model_server()
    server.mode = "rate_limited"
    endpoint = ModelEndpointFactory(
        service=service,
        provider=Provider.ANTHROPIC,
        base_url=server.anthropic_base,
        credential_env="",
    )
    endpoint.set_credential("sk-ant-secret")
    endpoint.save()
    result = probe(endpoint)
    assert result.outcome == "rate_limit" and result.status_code == 429
    assert "Rate limited" in result.message
    headers = server.requests[0]["headers"]
    assert headers["x-api-key"] == "sk-ant-secret"
    assert headers["anthropic-version"] == "2023-06-01"
    assert server.requests[0]["body"]["max_tokens"] > 0


def test_healthy_anthropic_probe_passes(model_server, service):
    server = model_server()
    endpoint = ModelEndpointFactory(
        service=service, provider=Provider.ANTHROPIC, base_url=server.anthropic_base
    )
    result = probe(endpoint)
    assert result.outcome == "ok" and result.ttft_ms is not None


def test_wrong_and_malformed_answers_are_failures(chain):
    primary, _, server, _ = chain
    server.mode = "wrong"
    assert probe(primary).outcome == "wrong_answer"
    server.mode = "garbage"
    primary.last_probe_at = None
    primary.save()
    assert probe(primary).outcome == "malformed"


def test_minimum_call_rule_keeps_breaker_closed_below_it(chain, service):
    primary, _, server, _ = chain
    primary.minimum_calls = 3
    primary.save()
    server.mode = "failing"
    assert probe(primary).outcome == "server_error"
    probe(primary)
    assert primary.breaker_state == BreakerState.CLOSED and route_tier(service) == 1
    probe(primary)
    assert primary.breaker_state == BreakerState.OPEN and route_tier(service) == 2


def test_half_open_shadow_runs_must_all_pass_before_switching_back(chain, service):
    primary, _, server, _ = chain
    primary.open_wait_seconds = 60
    primary.save()
    server.mode = "failing"
    probe(primary)
    probe(primary)
    assert primary.breaker_state == BreakerState.OPEN
    opened_at = primary.breaker_changed_at

    server.mode = "healthy"
    breaker.sweep_breakers(now=opened_at + timedelta(seconds=30))
    primary.refresh_from_db()
    assert primary.breaker_state == BreakerState.OPEN  # still waiting

    breaker.sweep_breakers(now=opened_at + timedelta(seconds=61))
    primary.refresh_from_db()
    assert primary.breaker_state == BreakerState.HALF_OPEN

    shadow = probe(primary)
    assert shadow.shadow and shadow.ok
    assert primary.breaker_state == BreakerState.HALF_OPEN and primary.half_open_passed == 1
    assert route_tier(service) == 2  # one good answer does not prove it

    server.mode = "failing"
    probe(primary)
    assert primary.breaker_state == BreakerState.OPEN
    assert primary.breaker_reason.startswith("shadow run failed")

    # Wait over again (open_wait 0 now), then two shadow runs in a row close it.
    primary.open_wait_seconds = 0
    primary.save()
    server.mode = "healthy"
    probe(primary)
    assert primary.breaker_state == BreakerState.HALF_OPEN and primary.half_open_passed == 1
    probe(primary)
    assert primary.breaker_state == BreakerState.CLOSED
    assert "2 shadow runs in a row passed" in primary.breaker_reason
    assert route_tier(service) == 1


def test_telemetry_failures_feed_the_breaker(chain, service):
    primary, _, _, _ = chain
    from llm import telemetry
    from tests.factories import MembershipFactory

    user = MembershipFactory(team=service.team).user
    events = [
        {"service": service.slug, "endpoint": "primary", "latency_ms": 120, "outcome": "rate_limit"}
        for _ in range(2)
    ]
    accepted, rejected = telemetry.ingest(user=user, events=events)
    assert (accepted, rejected) == (2, [])
    primary.refresh_from_db()
    assert primary.breaker_state == BreakerState.OPEN
    assert route_tier(service) == 2


def test_claim_moves_next_probe_on_so_a_second_claim_gets_nothing(chain):
    primary, secondary, _, _ = chain
    now = timezone.now()
    assert sorted(breaker.claim_due_probes(now, 100)) == sorted([primary.pk, secondary.pk])
    assert breaker.claim_due_probes(now, 100) == []
