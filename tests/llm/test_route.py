"""The active route: one signed webhook and one timeline entry per change, the route incident,
and GET /api/v1/services/<slug>/route with ETag/304."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.tokens import create_token
from incidents import outbound
from incidents.actors import Actor
from incidents.models import Incident, Status
from llm import webhooks
from llm.breaker import BREAKER_FIELDS
from llm.models import BreakerState, LlmPolicy, RouteChange, RouteDelivery, RouteSubscriber
from llm.routing import recompute_route, severity_for
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


def trip(endpoint, state=BreakerState.OPEN):
    endpoint.breaker_state = state
    endpoint.breaker_changed_at = timezone.now()
    endpoint.save(update_fields=BREAKER_FIELDS)
    return recompute_route(service_id=endpoint.service_id, reason=f"{endpoint.name} {state}")


@pytest.fixture
def three_tiers(service):
    tiers = [
        ModelEndpointFactory(service=service, name=name, tier=tier)
        for tier, name in ((1, "frontier"), (2, "other-provider"), (3, "local"))
    ]
    recompute_route(service_id=service.pk, reason="set up")
    return tiers


def route_incident(service):
    return Incident.objects.filter(service=service, dedup_key="llm-route").first()


def test_route_change_pushes_one_signed_webhook_and_writes_one_timeline_entry(
    three_tiers, service, webhook_receiver
):
    primary = three_tiers[0]
    subscriber = RouteSubscriber.objects.create(
        service=service, url=webhook_receiver.url, secret="s3cret-of-the-gateway"
    )
    change = trip(primary)
    assert change.from_tier == 1 and change.to_tier == 2
    assert RouteDelivery.objects.filter(change=change, subscriber=subscriber).count() == 1

    # Sent by the task, then by the sweep again: still exactly one webhook.
    assert webhooks.deliver_change(change_id=change.pk) == ["sent"]
    assert webhooks.sweep_due_deliveries() == 0
    assert webhooks.deliver_change(change_id=change.pk) == []
    assert len(webhook_receiver.received) == 1
    headers, body = webhook_receiver.received[0]
    assert outbound.verify(
        "s3cret-of-the-gateway",
        headers[outbound.TIMESTAMP_HEADER],
        body,
        headers[outbound.SIGNATURE_HEADER],
    )
    payload = json.loads(body)
    assert payload["event"] == "route.changed"
    assert payload["tier"] == 2 and payload["previous_tier"] == 1
    assert payload["endpoint"]["name"] == "other-provider"

    incident = route_incident(service)
    assert incident.severity == 2 and incident.status == Status.TRIGGERED
    entries = list(incident.timeline.filter(kind="route_changed"))
    assert len(entries) == 1
    assert "from tier 1 (frontier" in entries[0].message and "to tier 2" in entries[0].message

    # Nothing changed: recomputing writes nothing and sends nothing.
    assert recompute_route(service_id=service.pk, reason="again") is None
    assert incident.timeline.filter(kind="route_changed").count() == 1


def test_incident_severity_follows_depth_and_resolves_when_tier_1_is_back(three_tiers, service):
    primary, secondary, local = three_tiers
    trip(primary)
    incident = route_incident(service)
    assert incident.severity == 2
    trip(secondary)
    incident.refresh_from_db()
    assert incident.severity == 3
    change = trip(local)
    incident.refresh_from_db()
    assert incident.severity == 5 and change.to_tier is None
    assert change.payload["degradation"]["message"]
    assert Incident.objects.filter(service=service, dedup_key="llm-route").count() == 1

    trip(primary, BreakerState.CLOSED)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    kinds = list(incident.timeline.order_by("id").values_list("kind", flat=True))
    assert kinds.count("route_changed") == 4
    assert kinds[-1] == "resolved"
    assert list(
        RouteChange.objects.filter(service=service)
        .order_by("id")
        .values_list("from_tier", "to_tier")
    ) == [(None, 1), (1, 2), (2, 3), (3, None), (None, 1)]


def test_severity_by_depth_is_configurable(settings):
    settings.LLM_ROUTE_SEVERITY = "2:3,3:4,none:4"
    assert [severity_for(t) for t in (1, 2, 3, 4, None)] == [None, 3, 4, 4, 4]


@pytest.fixture
def avatar(service):
    from tests.factories import MembershipFactory

    user = MembershipFactory(team=service.team, role=Role.VIEWER).user
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(user=user, name='avatar', actor=Actor.of_user(user)).plaintext}"
    )
    return client


def test_route_api_answers_with_etag_and_304(
    three_tiers, service, avatar, django_capture_on_commit_callbacks
):
    url = f"/api/v1/services/{service.slug}/route"
    response = avatar.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == service.slug and body["tier"] == 1
    assert body["endpoint"] == {
        "name": "frontier",
        "provider": "openai",
        "model": "gpt-test",
        "base_url": "https://api.example.com/v1",
        "tier": 1,
        "slow_call_ms": 300,
    }
    assert [f["name"] for f in body["fallbacks"]] == ["other-provider", "local"]
    assert body["reason"] and body["since"]
    etag = response["ETag"]
    again = avatar.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag

    with django_capture_on_commit_callbacks(execute=True):  # the change drops the cached answer
        trip(three_tiers[0])
    changed = avatar.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json()["tier"] == 2
    assert changed["ETag"] != etag


def test_route_without_any_tier_carries_the_degradation_message(three_tiers, service, avatar):
    LlmPolicy.objects.update_or_create(
        service=service, defaults={"degradation_message": "Back in a moment."}
    )
    for endpoint in three_tiers:
        trip(endpoint)
    body = avatar.get(f"/api/v1/services/{service.slug}/route").json()
    assert body["tier"] is None and body["endpoint"] is None
    assert body["degradation"] == {"message": "Back in a moment.", "messages": {}}


def test_route_of_unknown_or_foreign_service_is_404(three_tiers, service, avatar, outsider):
    assert avatar.get("/api/v1/services/no-such-service/route").status_code == 404
    foreign = APIClient()
    foreign.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(user=outsider, name='x', actor=Actor.of_user(outsider)).plaintext}"
    )
    assert foreign.get(f"/api/v1/services/{service.slug}/route").status_code == 404
    assert APIClient().get(f"/api/v1/services/{service.slug}/route").status_code == 401


def test_removing_every_endpoint_resolves_the_incident_instead_of_paging_an_outage(
    three_tiers, service
):
    trip(three_tiers[0])
    incident = route_incident(service)
    for endpoint in three_tiers:
        endpoint.delete()
    change = recompute_route(service_id=service.pk, reason="endpoints removed")
    assert change.to_tier is None
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert "no model endpoint is configured" in incident.resolution_note
    assert not Incident.objects.filter(service=service, status=Status.TRIGGERED).exists()


def test_a_service_without_endpoints_gets_no_route_and_no_incident(service):
    assert recompute_route(service_id=service.pk, reason="nothing") is None
    assert not Incident.objects.filter(service=service).exists()
