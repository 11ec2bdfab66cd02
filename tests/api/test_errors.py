"""One JSON error shape for every error the API answers."""

import pytest
from rest_framework.test import APIClient

from tests.api.factories import open_incident

pytestmark = pytest.mark.django_db


def assert_shape(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_unknown_api_path_is_a_json_404(make_client, responder):
    assert_shape(make_client(responder).get("/api/v1/nothing-here/"), 404, "not_found")


def test_non_numeric_id_is_404(make_client, responder):
    assert_shape(make_client(responder).get("/api/v1/incidents/abc/"), 404, "not_found")


def test_malformed_json_is_400(make_client, responder):
    response = make_client(responder).post(
        "/api/v1/incidents/", "{not json", content_type="application/json"
    )
    assert_shape(response, 400, "parse_error")


def test_wrong_media_type_is_415(make_client, responder):
    response = make_client(responder).post(
        "/api/v1/incidents/", "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert_shape(response, 415, "unsupported_media_type")


def test_method_not_allowed_is_405(make_client, responder, service):
    incident = open_incident(service)
    response = make_client(responder).delete(f"/api/v1/incidents/{incident.pk}/")
    assert_shape(response, 405, "method_not_allowed")


def test_field_errors_name_each_field(make_client, responder):
    error = assert_shape(
        make_client(responder).post("/api/v1/incidents/", {"title": ""}, format="json"),
        400,
        "invalid",
    )
    assert set(error["fields"]) == {"service", "title"}
    assert "title" in error["message"]


def test_null_bytes_are_a_400_not_a_500(make_client, responder, service):
    response = make_client(responder).post(
        "/api/v1/incidents/", {"service": service.pk, "title": "a\x00b"}, format="json"
    )
    assert_shape(response, 400, "invalid")


def test_throttling_per_user_is_429_with_retry_after(make_client, responder, viewer, settings):
    settings.API_THROTTLE_RATE = "3/min"
    first, second = make_client(responder), make_client(responder)
    for _ in range(2):
        assert first.get("/api/v1/me/").status_code == 200
    assert second.get("/api/v1/me/").status_code == 200
    error = assert_shape(first.get("/api/v1/me/"), 429, "throttled")
    assert "available in" in error["message"]
    assert int(first.get("/api/v1/me/")["Retry-After"]) > 0
    # A second token of the same user shares the budget: minting tokens does not multiply it.
    assert_shape(second.get("/api/v1/me/"), 429, "throttled")
    # The browser session of the same user shares it too; another user has their own.
    session = APIClient()
    session.force_login(responder)
    assert session.get("/api/v1/me/").status_code == 429
    assert make_client(viewer).get("/api/v1/me/").status_code == 200


def test_throttle_window_resets(make_client, responder, settings):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    settings.API_THROTTLE_RATE = "2/min"
    client = make_client(responder)
    start = timezone.now().replace(second=5)
    with freeze_time(start):
        assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
        assert 1 <= int(client.get("/api/v1/me/")["Retry-After"]) <= 60
    with freeze_time(start + timedelta(minutes=1)):
        assert client.get("/api/v1/me/").status_code == 200


def test_anonymous_schema_requests_are_throttled_by_address(client, settings, db):
    settings.API_THROTTLE_RATE = "1/min"
    assert client.get("/api/v1/schema/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/api/v1/schema/", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get("/api/v1/schema/", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_every_apps_errors_are_domain_errors_with_their_own_status():
    from accounts.services import MembershipError
    from accounts.tokens import TokenError
    from config.api import _DOMAIN_ERRORS
    from config.errors import DomainError
    from incidents.errors import DedupConflict, IncidentError, InvalidIncidentInput
    from oncall.acklinks import AckLinkError
    from postmortems.services import PostmortemError
    from runbooks.services import RunbookConflict, RunbookError, UnknownRunbook

    expected = {
        IncidentError: 409,
        InvalidIncidentInput: 400,
        DedupConflict: 409,
        RunbookError: 400,
        RunbookConflict: 409,
        UnknownRunbook: 404,
        PostmortemError: 409,
        MembershipError: 409,
        TokenError: 400,
    }
    for klass, status in expected.items():
        assert issubclass(klass, DomainError), klass
        assert klass("x").status == status, klass
    assert AckLinkError("gone", 410).status == 410
    # The registry is left for third-party exceptions only (ProtectedError).
    assert [k.__module__.split(".")[0] for k in _DOMAIN_ERRORS] == ["django"]


def test_a_runbook_error_answers_its_own_status_in_the_error_shape(make_client, manager, team):
    client = make_client(manager)
    response = client.post(
        "/api/v1/runbooks/",
        {"team": team.pk, "title": "T", "min_severity": 5, "max_severity": 1},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "severity range 5-1" in error["message"]
