"""The API at its edge (issue 11): bodies that cannot be stored are 400s naming the problem,
filters by another team's id answer exactly as an unknown id, budgets are per user."""

from __future__ import annotations

import json

import pytest

from incidents.models import Alert, Incident
from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory
from tests.ingest.factories import make_integration
from tests.monitoring.factories import ProbeFactory

pytestmark = pytest.mark.django_db


def post_raw(client, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/json")


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"service": 1, "title": "x", "severity": NaN}', "severity"),
        (b'{"service": 1, "title": "x", "severity": Infinity}', "severity"),
        (b'{"service": 1, "title": "x", "extra": [1, 1e400]}', "extra[1]"),
    ],
)
def test_non_finite_numbers_are_a_400_naming_the_field(make_client, responder, body, field):
    response = post_raw(make_client(responder), "/api/v1/incidents/", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert f"{field}: is " in error["message"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
def test_deep_nesting_is_a_400_on_the_api(make_client, responder, depth):
    body = b'{"title": "x", "extra": ' + b"[" * depth + b"]" * depth + b"}"
    response = post_raw(make_client(responder), "/api/v1/incidents/", body)
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["error"]["message"]


def test_nesting_within_the_limit_is_parsed(make_client, responder, service):
    body = {"service": service.pk, "title": "x", "extra": json.loads("[" * 30 + "]" * 30)}
    response = make_client(responder).post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 201, response.content


def test_nul_in_a_search_parameter_is_a_400(make_client, responder, client):
    response = make_client(responder).get("/api/v1/incidents/?search=a%00b")
    assert response.status_code == 400
    assert "search" in response.json()["error"]["message"]
    client.force_login(responder)
    for path in ("/incidents/?q=%00", "/runbooks/?q=a%00", "/postmortems/search/?q=%00"):
        assert client.get(path).status_code == 400, path


@pytest.mark.parametrize(
    "value",
    ["2026-01-01T00:00:00+16:00", "9999-12-31T23:59:59-14:00", "1969-12-31T00:00:00Z"],
)
def test_date_filters_outside_the_limits_are_a_400(make_client, responder, value):
    response = make_client(responder).get("/api/v1/incidents/", {"opened_after": value})
    assert response.status_code == 400
    assert "opened_after" in response.json()["error"]["fields"]


# --- no existence oracle -----------------------------------------------------------------


@pytest.fixture
def foreign(db):
    """Objects of a team the caller does not belong to."""
    team = TeamFactory()
    service = ServiceFactory(team=team)
    incident = IncidentFactory(service=service)
    integration, _ = make_integration(service, "generic")
    alert = Alert.objects.create(
        integration=integration, incident=incident, fingerprint="f", status="firing",
        severity=3, first_seen_at=incident.triggered_at, last_seen_at=incident.triggered_at,
    )  # fmt: skip
    probe = ProbeFactory(service=service)
    return {
        "team": team.pk, "service": service.pk, "incident": incident.pk,
        "integration": integration.pk, "alert": alert.pk, "probe": probe.pk,
        "user": UserFactory().pk,
    }  # fmt: skip


UNKNOWN_ID = 987_654_321

FILTERS = [
    ("/api/v1/incidents/", "service", "service"),
    ("/api/v1/incidents/", "team", "team"),
    ("/api/v1/incidents/", "assignee", "user"),
    ("/api/v1/services/", "team", "team"),
    ("/api/v1/integrations/", "service", "service"),
    ("/api/v1/alerts/", "incident", "incident"),
    ("/api/v1/alerts/", "integration", "integration"),
    ("/api/v1/probes/", "service", "service"),
    ("/api/v1/runbook-runs/", "incident", "incident"),
    ("/api/v1/postmortems/", "incident", "incident"),
    ("/api/v1/memberships/", "team", "team"),
]


@pytest.mark.parametrize("path, param, kind", FILTERS)
def test_filtering_by_another_teams_id_answers_like_an_unknown_id(
    make_client, responder, foreign, path, param, kind
):
    client = make_client(responder)
    by_foreign = client.get(path, {param: foreign[kind]})
    by_unknown = client.get(path, {param: UNKNOWN_ID})
    assert by_foreign.status_code == by_unknown.status_code == 200
    assert by_foreign.json()["results"] == by_unknown.json()["results"] == []


@pytest.mark.parametrize("path, param, kind", FILTERS)
def test_id_filters_refuse_what_is_not_an_id(make_client, responder, path, param, kind):
    for bad in ("1.5", "1e400", "²", "-1", str(2**63)):
        response = make_client(responder).get(path, {param: bad})
        assert response.status_code == 400, (path, param, bad)
        assert param in response.json()["error"]["fields"]


@pytest.mark.parametrize("query", ["INC-²", "INC-99999999999999999999999", "²"])
def test_board_search_with_unicode_or_huge_numbers_answers(client, responder, query):
    client.force_login(responder)
    assert client.get("/incidents/", {"q": query}).status_code == 200
