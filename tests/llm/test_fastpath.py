"""The route and telemetry answered for a token the process already checked (llm.fastpath):
the same answers as the full API, no query for the route, one for telemetry, and every change
of who may do what taking effect on the next request. Run on the local cache and on Redis."""

from __future__ import annotations

import json

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from accounts.models import Membership, Role
from accounts.tokens import create_token, revoke_token
from incidents.actors import Actor
from llm import breaker, fastpath
from llm.models import TelemetryEvent
from llm.routing import recompute_route
from tests.factories import MembershipFactory
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    """The fast path on Django's local cache and on Redis (its one-script round trip)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": request.getfixturevalue("redis_prefix"),
            }
        }
    fastpath.forget()
    yield request.param
    fastpath.forget()
    caches["default"].close()


@pytest.fixture
def tiers(service):
    endpoints = [
        ModelEndpointFactory(service=service, name=name, tier=tier, probe_enabled=False)
        for tier, name in ((1, "primary"), (2, "secondary"))
    ]
    recompute_route(service_id=service.pk, reason="set up")
    return endpoints


@pytest.fixture
def member(service):
    return MembershipFactory(team=service.team, role=Role.RESPONDER)


def _client(user, **kwargs):
    issued = create_token(user=user, name="avatar", actor=Actor.of_user(user), **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    return client, issued.token


def _url(service):
    return f"/api/v1/services/{service.slug}/route"


def test_route_is_answered_without_a_query_and_alike_once_the_token_is_known(
    backend, tiers, service, member, django_assert_num_queries
):
    client, _ = _client(member.user)
    first = client.get(_url(service))
    assert first.status_code == 200
    with django_assert_num_queries(0):
        second = client.get(_url(service))
        not_modified = client.get(_url(service), HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second.content == first.content
    assert json.loads(second.content)["endpoint"]["name"] == "primary"
    for header in ("ETag", "Content-Type", "Cache-Control", "Allow"):
        assert second[header] == first[header], header
    assert not_modified.status_code == 304 and not_modified["ETag"] == first["ETag"]


def test_route_change_is_seen_on_the_next_request(
    backend, tiers, service, member, django_capture_on_commit_callbacks
):
    client, _ = _client(member.user)
    assert client.get(_url(service)).json()["tier"] == 1
    client.get(_url(service))  # from the fast path now
    with django_capture_on_commit_callbacks(execute=True):
        tiers[0].breaker_state = "open"
        tiers[0].save(update_fields=["breaker_state"])
        recompute_route(service_id=service.pk, reason="primary opened")
    assert client.get(_url(service)).json()["tier"] == 2


def test_revoked_token_stops_working_on_the_next_request(
    backend, tiers, service, member, django_capture_on_commit_callbacks
):
    client, token = _client(member.user)
    assert client.get(_url(service)).status_code == 200
    assert client.get(_url(service)).status_code == 200  # remembered
    with django_capture_on_commit_callbacks(execute=True):
        revoke_token(token=token, actor=Actor.of_user(member.user))
    refused = client.get(_url(service))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"


def test_removed_membership_and_deactivated_user_take_effect_on_the_next_request(
    backend, tiers, service, member, django_capture_on_commit_callbacks
):
    client, _ = _client(member.user)
    assert client.get(_url(service)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        Membership.objects.get(pk=member.pk).delete()
    assert client.get(_url(service)).status_code == 404

    other = MembershipFactory(team=service.team, role=Role.VIEWER)
    client, _ = _client(other.user)
    assert client.get(_url(service)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        other.user.is_active = False
        other.user.save()
    assert client.get(_url(service)).status_code == 401


def test_another_process_hears_of_a_revocation_through_the_generation(
    backend, tiers, service, member
):
    """What a second web process does: it remembers the token, then sees the generation move
    (bumped by the process that revoked) and asks the database again."""
    client, token = _client(member.user)
    assert client.get(_url(service)).status_code == 200
    token.revoked_at = token.created_at
    type(token).objects.filter(pk=token.pk).update(revoked_at=token.created_at)  # no signal
    assert client.get(_url(service)).status_code == 200  # still remembered: nothing moved
    fastpath._bump()  # as after the commit of revoke_token in another process
    assert client.get(_url(service)).status_code == 401


def test_the_fast_path_counts_the_api_throttle_once_per_request(
    backend, tiers, service, member, settings
):
    settings.API_THROTTLE_RATE = "3/min"
    client, _ = _client(member.user)
    answers = [client.get(_url(service)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "throttled"
    assert int(answers[-1]["Retry-After"]) >= 1


def test_unknown_service_and_other_accept_go_to_the_full_api(backend, tiers, service, member):
    client, _ = _client(member.user)
    assert client.get(_url(service)).status_code == 200
    missing = client.get("/api/v1/services/no-such-service/route")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get(_url(service), HTTP_ACCEPT="text/html").status_code == 406


def _events(service, n=3, endpoint="primary"):
    return {
        "events": [
            {"service": service.slug, "endpoint": endpoint, "latency_ms": 100 + i,
             "outcome": "ok", "tokens_in": 10, "tokens_out": 2}
            for i in range(n)
        ]
    }  # fmt: skip


def test_telemetry_of_a_known_token_costs_one_query_and_answers_alike(
    backend, tiers, service, member, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(breaker, "EVALUATE_EVERY", 3600)  # the window is judged once here
    client, _ = _client(member.user)
    first = client.post("/api/v1/telemetry", _events(service), format="json")
    assert first.status_code == 202 and first.json() == {"accepted": 3, "rejected": []}
    client.post("/api/v1/telemetry", _events(service), format="json")  # endpoints remembered
    body = _events(service, 2)
    body["events"].append({"service": service.slug, "endpoint": "nope", "latency_ms": 1})
    with django_assert_num_queries(1):  # the INSERT
        second = client.post("/api/v1/telemetry", body, format="json")
    assert second.status_code == 202
    assert second.json() == {
        "accepted": 2,
        "rejected": [{"index": 2, "error": f"service {service.slug!r} has no endpoint 'nope'"}],
    }
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert TelemetryEvent.objects.filter(service=service).count() == 8


def test_telemetry_for_a_deleted_endpoint_is_rejected_by_index_not_a_500(
    backend, tiers, service, member, django_capture_on_commit_callbacks
):
    client, _ = _client(member.user)
    assert client.post("/api/v1/telemetry", _events(service), format="json").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        tiers[1].delete()
    answer = client.post("/api/v1/telemetry", _events(service, 1, "secondary"), format="json")
    assert answer.status_code == 202
    assert answer.json()["accepted"] == 0 and answer.json()["rejected"][0]["index"] == 0


def test_read_only_token_and_bad_bodies_get_the_full_api_answers(backend, tiers, service, member):
    read_only, _ = _client(member.user, read_only=True)
    assert read_only.get(_url(service)).status_code == 200
    refused = read_only.post("/api/v1/telemetry", _events(service), format="json")
    assert refused.status_code == 403

    client, _ = _client(member.user)
    assert client.post("/api/v1/telemetry", _events(service), format="json").status_code == 202
    bad = client.post("/api/v1/telemetry", {"events": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    broken = client.post("/api/v1/telemetry", b"{", content_type="application/json")
    assert broken.status_code == 400
    too_many = client.post("/api/v1/telemetry", _events(service, 1001), format="json")
    assert too_many.status_code == 400
