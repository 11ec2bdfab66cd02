import json

import pytest
from django.db import OperationalError
from freezegun import freeze_time

from incidents.ingest import throttle
from incidents.models import InboundEvent, Incident
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["alertmanager", "grafana", "generic"])
def test_unknown_token_is_404(db, post_json, path):
    response = post_json(f"/hooks/{path}/{'f' * 32}", am_group(am_alert("a")))
    assert response.status_code == 404
    assert response.json()["field"] == "token"


def test_inactive_integration_is_404(alertmanager, post_json):
    integration, token = alertmanager
    integration.is_active = False
    integration.save()
    assert post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a"))).status_code == 404


def test_token_of_another_kind_is_404(generic, post_json):
    _, token = generic
    assert post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a"))).status_code == 404


def test_token_differing_after_the_prefix_is_404(alertmanager, post_json):
    _, token = alertmanager
    forged = token[:8] + ("0" if token[8] != "0" else "1") + token[9:]
    assert post_json(f"/hooks/alertmanager/{forged}", am_group(am_alert("a"))).status_code == 404


def test_token_is_stored_hashed_only(alertmanager):
    integration, token = alertmanager
    assert len(token) == 32 and int(token, 16) >= 0
    assert integration.token_hash != token and token not in integration.token_hash
    assert integration.token_prefix == token[:8]


def test_get_is_405(alertmanager, client):
    _, token = alertmanager
    assert client.get(f"/hooks/alertmanager/{token}").status_code == 405
    assert client.get("/v2/enqueue").status_code == 405


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        (b"", "body"),
        (b"\xff\xfe", "body"),
        (b'{"alerts": []}', "groupKey"),
        (b'{"groupKey": " ", "groupLabels": {"a": "b"}, "alerts": []}', "alerts"),
        (b'{"groupKey": "g"}', "alerts"),
        (b'{"groupKey": "g", "alerts": "many"}', "alerts"),
        (b'{"groupKey": 7, "alerts": []}', "groupKey"),
        (b'{"groupKey": "g", "alerts": [7]}', "alerts[0]"),
        (b'{"groupKey": "g", "alerts": [{"status": "on"}]}', "alerts[0].status"),
        (
            b'{"groupKey": "g", "alerts": [{"status": "firing", "labels": {"a": 1}}]}',
            "alerts[0].labels.a",
        ),
        (
            b'{"groupKey": "g", "alerts": [{"status": "firing", "startsAt": "noon"}]}',
            "alerts[0].startsAt",
        ),
    ],
)
def test_malformed_alertmanager_body_is_400_naming_the_field(alertmanager, post_json, body, field):
    _, token = alertmanager
    response = post_json(f"/hooks/alertmanager/{token}", body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert InboundEvent.objects.count() == 0


def test_deeply_nested_body_is_400(generic, post_json):
    _, token = generic
    body = b'{"title": "x", "details": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = post_json(f"/hooks/generic/{token}", body)
    assert response.status_code == 400


def test_moderately_nested_details_beyond_the_limit_are_400(generic, post_json):
    _, token = generic
    details: dict = {}
    node = details
    for _ in range(20):
        node["n"] = {}
        node = node["n"]
    response = post_json(f"/hooks/generic/{token}", {"title": "x", "details": details})
    assert response.status_code == 400
    assert response.json()["field"] == "details"


def test_huge_label_set_is_400(alertmanager, post_json):
    _, token = alertmanager
    alert = am_alert("a")
    alert["labels"] = {f"l{i}": "v" for i in range(5000)}
    response = post_json(f"/hooks/alertmanager/{token}", am_group(alert))
    assert response.status_code == 400
    assert response.json()["field"] == "alerts[0].labels"


def test_body_over_one_mib_is_413_by_content_length_and_by_size(alertmanager, client):
    _, token = alertmanager
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    response = client.post(
        f"/hooks/alertmanager/{token}", data=big, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_body_over_cap_without_trustworthy_content_length_is_413(alertmanager, rf):
    from incidents.ingest.views import receive_webhook

    _, token = alertmanager
    big = json.dumps({"pad": "x" * (1024 * 1024)}).encode()
    request = rf.post("/x", data=big, content_type="application/json")
    # Without a Content-Length (chunked upload), the size read decides.
    request.META.pop("CONTENT_LENGTH")
    response = receive_webhook(request, kind="alertmanager", token=token)
    assert response.status_code == 413


@freeze_time("2026-11-25 10:00:15")
def test_rate_limit_answers_429_with_retry_after(service, inline, post_json):
    throttle.cache_breaker.reset()
    _, token = make_integration(service, "alertmanager", rate_limit_per_minute=3)
    url = f"/hooks/alertmanager/{token}"
    statuses = [post_json(url, am_group(am_alert("a"))).status_code for _ in range(4)]
    assert statuses[:3] == [202, 202, 202]
    assert statuses[3] == 429
    response = post_json(url, am_group(am_alert("a")))
    assert response["Retry-After"] == "45"  # the next one-minute window
    assert InboundEvent.objects.count() == 3


def test_redis_down_fails_open(service, inline, post_json, settings):
    throttle.cache_breaker.reset()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    _, token = make_integration(service, "alertmanager", rate_limit_per_minute=1)
    url = f"/hooks/alertmanager/{token}"
    try:
        statuses = [post_json(url, am_group(am_alert("a"))).status_code for _ in range(3)]
    finally:
        throttle.cache_breaker.reset()
    assert statuses == [202, 202, 202]
    assert Incident.objects.get().alerts.get().count == 3


@pytest.mark.redis
@freeze_time("2026-11-25 10:00:15")  # all three requests fall in one one-minute window
def test_rate_limit_counts_in_real_redis(
    service, inline, post_json, settings, redis_url, redis_prefix
):
    throttle.cache_breaker.reset()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,
        }
    }
    integration, token = make_integration(service, "alertmanager", rate_limit_per_minute=2)
    url = f"/hooks/alertmanager/{token}"
    statuses = [post_json(url, am_group(am_alert("a"))).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]


def test_database_trouble_answers_503_not_4xx(alertmanager, post_json, monkeypatch):
    from incidents.ingest import views

    def broken(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "accept_event", broken)
    _, token = alertmanager
    response = post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a")))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["status"] == "error"


def test_database_trouble_on_v2_enqueue_is_503(pagerduty, post_json, monkeypatch):
    from incidents.ingest import views

    def broken(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "accept_event", broken)
    _, token = pagerduty
    document = {
        "routing_key": token,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "x", "severity": "info"},
    }
    assert post_json("/v2/enqueue", document).status_code == 503


def test_webhooks_need_no_csrf_token(alertmanager, post_json, client):
    client.handler.enforce_csrf_checks = True
    _, token = alertmanager
    assert post_json(f"/hooks/alertmanager/{token}", am_group(am_alert("a"))).status_code == 202


def test_nul_and_lone_surrogates_are_stored_safely(generic, post_json):
    _, token = generic
    body = b'{"title": "bad \\u0000 \\ud800 text", "details": {"k\\u0000": "\\udfff"}}'
    response = post_json(f"/hooks/generic/{token}", body)
    assert response.status_code == 202
    assert "\x00" not in Incident.objects.get().title


def test_deactivating_an_integration_takes_effect_at_once_in_this_process(alertmanager, post_json):
    integration, token = alertmanager
    url = f"/hooks/alertmanager/{token}"
    assert post_json(url, am_group(am_alert("a"))).status_code == 202  # now cached
    integration.is_active = False
    integration.save(update_fields=["is_active"])
    assert post_json(url, am_group(am_alert("a"))).status_code == 404
