"""The per-call failover client (clients/python) driving the real ``openai`` package against
local model servers, reading its route from a live Vigil and reporting telemetry to it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from vigil_failover import Degraded, FailoverClient, TelemetryReporter

from accounts.models import Role
from accounts.tokens import create_token
from incidents.actors import Actor
from llm import telemetry
from llm.models import BreakerState, ModelEndpoint, RouteState, TelemetryEvent
from llm.routing import recompute_route
from tests.factories import MembershipFactory
from tests.llm.factories import ModelEndpointFactory

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.API_THROTTLE_RATE = ""


@pytest.fixture
def setup(model_server, service, live_server):
    primary_server, secondary_server = model_server(), model_server(answer="pong from secondary")
    primary = ModelEndpointFactory(
        service=service, name="primary", tier=1, base_url=primary_server.openai_base,
        slow_call_ms=300, minimum_calls=1, probe_enabled=False,
    )  # fmt: skip
    ModelEndpointFactory(
        service=service, name="secondary", tier=2, base_url=secondary_server.openai_base,
        slow_call_ms=2000, probe_enabled=False,
    )  # fmt: skip
    recompute_route(service_id=service.pk, reason="set up")
    user = MembershipFactory(team=service.team, role=Role.RESPONDER).user
    token = create_token(user=user, name="avatar-gateway", actor=Actor.of_user(user)).plaintext
    client = FailoverClient(
        vigil_url=live_server.url, token=token, service=service.slug,
        credentials={"primary": "sk-primary", "secondary": "sk-secondary"},
        telemetry_interval=0.05, vigil_timeout=15,
    )  # fmt: skip
    yield client, primary, primary_server, secondary_server
    client.close()


def test_hanging_primary_fails_over_within_the_threshold_and_reports_telemetry(
    setup, service, client
):
    browser = client
    client, primary, primary_server, secondary_server = setup
    primary_server.mode, primary_server.delay = "slow", 5  # hangs far past the 300 ms threshold
    client.warm_up()  # what a gateway does at start: SDK imports are not part of a call

    started = time.monotonic()
    answer = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
    elapsed = time.monotonic() - started

    assert answer.text == "pong from secondary"
    assert answer.endpoint == "secondary" and answer.tier == 2
    assert [a.outcome for a in answer.attempts] == ["timeout"]
    assert answer.tokens_in == 12 and answer.tokens_out == 3
    # Threshold (0.3 s) + the secondary's own latency, with slack for a loaded machine;
    # nowhere near the 5 s the primary takes.
    assert elapsed < 0.3 + answer.latency_ms / 1000 + 3.0, (answer.attempts, elapsed)
    assert primary_server.requests[0]["headers"]["Authorization"] == "Bearer sk-primary"
    assert secondary_server.requests[0]["headers"]["Authorization"] == "Bearer sk-secondary"

    # The next call goes straight to the secondary.
    again = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
    assert again.endpoint == "secondary" and again.attempts == []
    assert primary_server.hits == 1

    assert client.telemetry.flush(timeout=10)
    assert client.telemetry.sent == 3 and client.telemetry.dropped == 0
    rows = list(TelemetryEvent.objects.order_by("id").values_list("endpoint__name", "outcome"))
    assert rows == [("primary", "timeout"), ("secondary", "ok"), ("secondary", "ok")]
    # Vigil's breaker heard it (minimum_calls 1 here) and moved the route for everyone.
    assert ModelEndpoint.objects.get(pk=primary.pk).breaker_state == BreakerState.OPEN
    assert RouteState.objects.get(service=service).tier == 2

    # ...and shows it on the service's AI-health page once rolled up.
    telemetry.rollup_since(timezone.now() - timedelta(minutes=5))
    browser.force_login(MembershipFactory(team=service.team, role=Role.VIEWER).user)
    html = browser.get(f"/llm/{service.slug}/?window=1h").content.decode()
    assert "<strong>3</strong>" in html and "timeout: 1" in html
    assert "breaker of primary (tier 1) opened" in html


def test_route_is_cached_with_etag_and_a_degraded_route_raises_the_message(setup, service):
    client, primary, _, _ = setup
    assert client.route()["tier"] == 1
    etag = client._etag
    assert etag
    client._fetched_at = 0  # stale: refreshed (304) in the background
    client.route()
    time.sleep(0.3)
    assert client._etag == etag and client.route()["tier"] == 1

    ModelEndpoint.objects.update(breaker_state=BreakerState.OPEN)
    recompute_route(service_id=service.pk, reason="all open")
    fresh = FailoverClient(
        vigil_url=client.vigil_url, token=client.token, service=service.slug,
        report_telemetry=False,
    )  # fmt: skip
    with pytest.raises(Degraded) as raised:
        fresh.chat([{"role": "user", "content": "hi"}])
    assert raised.value.message


def test_unreachable_vigil_never_blocks_calls_and_counts_dropped_telemetry(setup):
    client, _, _, _ = setup
    client.route()  # cached while Vigil was there
    client.telemetry.url = "http://127.0.0.1:9/api/v1/telemetry"  # nothing listens there
    answer = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
    assert answer.endpoint == "primary"
    assert client.telemetry.flush(timeout=10)
    assert client.telemetry.dropped == 1 and client.telemetry.sent == 0


def test_full_queue_drops_without_blocking():
    reporter = TelemetryReporter(
        vigil_url="http://127.0.0.1:9", token="x", max_queue=5, flush_interval=0.01, timeout=0.2
    )
    started = time.monotonic()
    for i in range(1000):
        reporter.report({"i": i})
    assert time.monotonic() - started < 1.0
    assert reporter.flush(timeout=10)
    assert reporter.sent == 0 and reporter.dropped == 1000
    reporter.close()


def _client_for(service, live_server, token, **kwargs):
    return FailoverClient(
        vigil_url=live_server.url, token=token, service=service.slug,
        telemetry_interval=0.05, vigil_timeout=15, **kwargs,
    )  # fmt: skip


@pytest.fixture
def avatar_token(service):
    user = MembershipFactory(team=service.team, role=Role.RESPONDER).user
    return create_token(user=user, name="avatar-gateway", actor=Actor.of_user(user)).plaintext


def test_anthropic_endpoint_is_called_with_the_anthropic_sdk_in_its_wire_format(
    model_server, service, live_server, avatar_token
):
    server = model_server(answer="pong from claude")
    ModelEndpointFactory(
        service=service, name="claude", tier=1, provider="anthropic",
        base_url=server.anthropic_base, model="claude-test", probe_enabled=False,
    )  # fmt: skip
    recompute_route(service_id=service.pk, reason="set up")
    client = _client_for(service, live_server, avatar_token, credentials={"claude": "sk-ant"})
    try:
        answer = client.chat(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say pong"}],
            max_tokens=7,
        )
        assert client.telemetry.flush(timeout=10)
    finally:
        client.close()

    assert answer.text == "pong from claude" and answer.endpoint == "claude"
    assert answer.tokens_in == 12 and answer.tokens_out == 3
    sent = server.requests[0]
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    # The Messages API: the key (x-api-key, or a bearer token in newer SDKs), the
    # anthropic-version header, the system prompt apart from the turns.
    assert headers.get("x-api-key") == "sk-ant" or headers["authorization"] == "Bearer sk-ant"
    assert headers["anthropic-version"]
    assert sent["body"]["model"] == "claude-test" and sent["body"]["max_tokens"] == 7
    assert sent["body"]["system"] == "Be brief."
    assert sent["body"]["messages"] == [{"role": "user", "content": "Say pong"}]
    assert list(TelemetryEvent.objects.values_list("endpoint__name", "outcome")) == [
        ("claude", "ok")
    ]


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("overloaded", "overloaded"), ("rate_limited", "rate_limit"), ("failing", "server_error")],
)
def test_failing_anthropic_primary_fails_over_to_the_openai_secondary_in_the_same_call(
    model_server, service, live_server, avatar_token, mode, outcome
):
    primary, secondary = model_server(), model_server(answer="pong from secondary")
    primary.mode = mode
    ModelEndpointFactory(
        service=service, name="claude", tier=1, provider="anthropic",
        base_url=primary.anthropic_base, probe_enabled=False,
    )  # fmt: skip
    ModelEndpointFactory(
        service=service, name="secondary", tier=2, base_url=secondary.openai_base,
        probe_enabled=False,
    )  # fmt: skip
    recompute_route(service_id=service.pk, reason="set up")
    client = _client_for(service, live_server, avatar_token)
    try:
        answer = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
        assert client.telemetry.flush(timeout=10)
    finally:
        client.close()

    assert answer.endpoint == "secondary" and answer.text == "pong from secondary"
    assert [(a.endpoint, a.outcome) for a in answer.attempts] == [("claude", outcome)]
    assert primary.hits == 1  # no SDK retries
    rows = list(TelemetryEvent.objects.order_by("id").values_list("endpoint__name", "outcome"))
    assert rows == [("claude", outcome), ("secondary", "ok")]


def test_a_primary_trickling_its_answer_is_cut_at_the_threshold_not_per_read(
    model_server, service, live_server, avatar_token
):
    primary, secondary = model_server(), model_server(answer="pong from secondary")
    # About 250 bytes, one every 20 ms: each read waits far less than the 300 ms threshold,
    # the whole answer about 5 s.
    primary.mode, primary.delay = "trickle", 0.02
    ModelEndpointFactory(
        service=service, name="primary", tier=1, base_url=primary.openai_base,
        slow_call_ms=300, probe_enabled=False,
    )  # fmt: skip
    ModelEndpointFactory(
        service=service, name="secondary", tier=2, base_url=secondary.openai_base,
        slow_call_ms=2000, probe_enabled=False,
    )  # fmt: skip
    recompute_route(service_id=service.pk, reason="set up")
    client = _client_for(service, live_server, avatar_token, report_telemetry=False)
    client.warm_up()
    try:
        answer = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
    finally:
        client.close()

    assert answer.endpoint == "secondary"
    [attempt] = answer.attempts
    assert attempt.endpoint == "primary" and attempt.outcome == "timeout"
    # Cut at the threshold (with slack for a loaded machine), not after the ~5 s trickle.
    assert attempt.latency_ms < 300 + 2000, attempt


def test_without_the_total_deadline_the_trickle_runs_past_the_threshold(
    model_server, service, live_server, avatar_token
):
    """The control for the test above: the SDK's per-read timeout alone lets it run on."""
    primary = model_server()
    primary.mode, primary.delay = "trickle", 0.005
    ModelEndpointFactory(
        service=service, name="primary", tier=1, base_url=primary.openai_base,
        slow_call_ms=300, probe_enabled=False,
    )  # fmt: skip
    recompute_route(service_id=service.pk, reason="set up")
    client = _client_for(service, live_server, avatar_token, report_telemetry=False,
                         total_deadline=False)  # fmt: skip
    try:
        answer = client.chat([{"role": "user", "content": "Say pong"}], max_tokens=5)
    finally:
        client.close()
    assert answer.endpoint == "primary" and answer.text == "pong"
    assert answer.latency_ms > 300  # longer than the threshold, yet never timed out
