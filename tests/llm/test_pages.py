"""AI-health, normal-state and endpoint pages: what they show, who may see and change what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from llm import signals, telemetry
from llm.models import LlmPolicy, ModelEndpoint
from llm.routing import recompute_route
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(service):
    endpoint = ModelEndpointFactory(service=service, name="primary", minimum_calls=100000)
    recompute_route(service_id=service.pk, reason="set up")
    return endpoint


def add_calls(endpoint, n, *, latency=700, outcome="ok", at=None, feedback=None):
    at = at or timezone.now() - timedelta(minutes=2)
    telemetry.insert_rows([
        (endpoint.service_id, endpoint.pk, at, timezone.now(), latency, latency // 3, outcome,
         100, 20, Decimal("0.01"), feedback)
        for _ in range(n)
    ])  # fmt: skip
    telemetry.rollup_since(timezone.now() - timedelta(minutes=1))


def test_health_page_shows_telemetry_route_and_charts(client, viewer, service, endpoint):
    add_calls(endpoint, 8)
    add_calls(endpoint, 2, outcome="rate_limit", latency=100, feedback=-1.0)
    client.force_login(viewer)
    response = client.get(f"/llm/{service.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "AI health of" in html and "<svg" in html
    assert "<strong>10</strong>" in html  # calls
    assert "20.0 %" in html  # error rate
    assert "rate limited (429): 2" in html
    assert "Latency p50 / p95 / p99" in html and "Time to first token" in html
    assert "Route history" in html and "set up" in html
    assert "<script" not in html.split("<main", 1)[1]  # no inline script in the page body
    fragment = client.get(f"/llm/{service.slug}/?window=1h", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()


def test_normal_page_shows_bands_and_the_start_up_rule(client, viewer, service, endpoint):
    add_calls(endpoint, 30, at=timezone.now() - timedelta(hours=1))
    signals.record_hours(service=service)
    client.force_login(viewer)
    html = client.get(f"/llm/{service.slug}/normal/").content.decode()
    assert "Normal state of" in html and "median" in html
    assert "Learning: not enough history" in html
    assert html.count("<svg") == 5


def test_pages_of_another_team_are_404_and_anonymous_is_sent_to_login(
    client, outsider, service, endpoint
):
    client.force_login(outsider)
    for url in (f"/llm/{service.slug}/", f"/llm/{service.slug}/normal/",
                f"/llm/{service.slug}/endpoints/"):  # fmt: skip
        assert client.get(url).status_code == 404
    assert client.post(f"/llm/{service.slug}/endpoints/{endpoint.pk}/delete/").status_code == 404
    client.logout()
    assert client.get(f"/llm/{service.slug}/").status_code == 302


def test_manager_adds_and_removes_an_endpoint_in_the_browser(client, manager, service):
    client.force_login(manager)
    page = client.get(f"/llm/{service.slug}/endpoints/").content.decode()
    assert "Add an endpoint" in page
    response = client.post(
        f"/llm/{service.slug}/endpoints/",
        {"name": "primary", "provider": "anthropic", "base_url": "https://api.anthropic.example",
         "model": "claude-test", "tier": 1, "credential": "sk-ant-hidden", "credential_env": "",
         "price_in_per_1k": "0.003", "price_out_per_1k": "0.015", "slow_call_ms": 3000},
    )  # fmt: skip
    assert response.status_code == 303
    endpoint = ModelEndpoint.objects.get(service=service)
    assert endpoint.credential() == "sk-ant-hidden"
    page = client.get(f"/llm/{service.slug}/endpoints/").content.decode()
    assert "stored (hidden)" in page and "sk-ant-hidden" not in page
    bad = client.post(f"/llm/{service.slug}/endpoints/", {"name": "x", "tier": 0})
    assert bad.status_code == 400
    assert client.get(f"/llm/{service.slug}/endpoints/{endpoint.pk}/delete/").status_code == 405
    assert client.post(f"/llm/{service.slug}/endpoints/{endpoint.pk}/delete/").status_code == 303
    assert not ModelEndpoint.objects.exists()


def test_viewer_may_read_but_not_change(client, viewer, service, endpoint):
    client.force_login(viewer)
    page = client.get(f"/llm/{service.slug}/endpoints/").content.decode()
    assert "Add an endpoint" not in page
    assert client.post(f"/llm/{service.slug}/endpoints/", {"name": "x"}).status_code == 403
    assert client.post(f"/llm/{service.slug}/endpoints/{endpoint.pk}/delete/").status_code == 403
    assert client.post(f"/llm/{service.slug}/policy/", {}).status_code == 403


def test_manager_sets_degradation_message_and_budget(client, manager, service, endpoint):
    client.force_login(manager)
    response = client.post(
        f"/llm/{service.slug}/policy/",
        {"degradation_message": "One moment please.", "daily_budget": "25",
         "budget_warning_percent": 80, "anomaly_detection": "on"},
    )  # fmt: skip
    assert response.status_code == 303
    policy = LlmPolicy.objects.get(service=service)
    assert policy.degradation_message == "One moment please."
    assert policy.daily_budget == Decimal("25")


def test_overview_lists_services_with_models_and_their_tier(client, viewer, service, endpoint):
    client.force_login(viewer)
    html = client.get("/llm/").content.decode()
    assert service.name in html and "tier 1 (primary)" in html


def test_demo_seeder_adds_endpoints_and_a_day_of_telemetry_once(team, service):
    from llm.demo import seed_demo_models
    from llm.models import RouteState, TelemetryMinute

    service.slug = "sales-avatar"
    service.save()
    assert "3 model endpoints" in seed_demo_models(team=team, author=None)
    assert seed_demo_models(team=team, author=None) == ""
    assert RouteState.objects.get(service=service).tier == 1
    assert TelemetryMinute.objects.filter(service=service).count() >= 700


def test_health_page_query_count_does_not_grow_with_data(
    client, viewer, service, endpoint, django_assert_max_num_queries
):
    for i in range(3):
        ModelEndpointFactory(service=service, name=f"extra-{i}", tier=2 + i)
    for minutes in (5, 50, 500):
        add_calls(endpoint, 3, at=timezone.now() - timedelta(minutes=minutes))
    client.force_login(viewer)
    with django_assert_max_num_queries(20):
        assert client.get(f"/llm/{service.slug}/?window=7d").status_code == 200


def test_service_page_shows_the_failover_chain_and_links_to_ai_health(client, manager, service):
    ModelEndpointFactory(service=service, name="primary", tier=1)
    ModelEndpointFactory(service=service, name="local-fallback", tier=3)
    recompute_route(service_id=service.pk, reason="set up")
    client.force_login(manager)
    html = client.get(f"/services/{service.slug}/").content.decode()
    assert html.index("primary") < html.index("local-fallback")
    assert f'href="/llm/{service.slug}/"' in html
    assert f'href="/llm/{service.slug}/endpoints/"' in html


def test_service_page_without_endpoints_offers_to_add_them_to_managers_only(
    client, manager, viewer, service
):
    client.force_login(manager)
    assert (
        f"/llm/{service.slug}/endpoints/"
        in client.get(f"/services/{service.slug}/").content.decode()
    )
    client.force_login(viewer)
    html = client.get(f"/services/{service.slug}/").content.decode()
    assert "No model endpoints" in html and f"/llm/{service.slug}/endpoints/" not in html
