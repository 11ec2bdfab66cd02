import pytest
from rest_framework.test import APIClient

from incidents.actors import Actor
from runbooks.models import ActionRun, Runbook, StepCheck
from runbooks.services import attach_runbook
from tests.postmortems.factories import resolved_incident
from tests.runbooks.factories import make_runbook, step

pytestmark = pytest.mark.django_db


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_list_is_team_scoped_and_anonymous_is_refused(team, viewer, outsider):
    mine = make_runbook(team, title="Mine")
    response = api(viewer).get("/api/v1/runbooks/")
    assert response.status_code == 200
    assert [r["title"] for r in response.json()["results"]] == ["Mine"]
    assert api(outsider).get(f"/api/v1/runbooks/{mine.pk}/").status_code == 404
    assert APIClient().get("/api/v1/runbooks/").status_code == 401


def test_manager_creates_and_edits_and_responder_cannot(team, manager, responder, service):
    payload = {
        "team": team.pk,
        "title": "Quota exhausted",
        "match_labels": {"alertname": "QuotaLow"},
        "services": [service.pk],
        "steps": [
            {"title": "Raise quota", "action_url": "https://ops.example/q", "action_secret": "s"}
        ],
    }
    assert api(responder).post("/api/v1/runbooks/", payload, format="json").status_code == 403
    response = api(manager).post("/api/v1/runbooks/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["steps"][0]["has_secret"] is True and "action_secret" not in body["steps"][0]
    runbook = Runbook.objects.get()
    response = api(manager).patch(
        f"/api/v1/runbooks/{runbook.pk}/", {"body": "Ask the vendor."}, format="json"
    )
    assert response.status_code == 200 and response.json()["version"] == 2
    runbook.refresh_from_db()
    assert runbook.steps.get().action_secret == "s"  # untouched steps keep their secret
    bad = api(manager).patch(
        f"/api/v1/runbooks/{runbook.pk}/", {"min_severity": 5, "max_severity": 1}, format="json"
    )
    assert bad.status_code == 400 and "severity range" in bad.json()["error"]["message"]


def test_other_teams_ids_are_invalid_for_create(team, manager, outsider):
    response = api(outsider).post(
        "/api/v1/runbooks/", {"team": team.pk, "title": "x"}, format="json"
    )
    assert response.status_code == 400 and "team" in response.json()["error"]["fields"]


def test_tick_and_run_action_over_the_api(team, service, responder, viewer):
    runbook = make_runbook(
        team, steps=[step("Drain"), step("Flush", action_url="https://a.example")]
    )
    incident = resolved_incident(service, responder, resolve=None)
    run, _ = attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    drain, flush = runbook.steps.all()
    url = f"/api/v1/runbook-runs/{run.pk}/"
    assert api(viewer).post(url + "tick/", {"step": drain.pk}, format="json").status_code == 403
    response = api(responder).post(url + "tick/", {"step": drain.pk}, format="json")
    assert response.status_code == 200 and response.json()["checks"][0]["step"] == drain.pk
    assert StepCheck.objects.get().checked_by == responder
    assert (
        api(responder).post(url + "run-action/", {"step": flush.pk}, format="json").status_code
        == 202
    )
    conflict = api(responder).post(url + "run-action/", {"step": flush.pk}, format="json")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    assert ActionRun.objects.count() == 1
    listed = api(viewer).get(f"/api/v1/runbook-runs/?incident={incident.pk}").json()
    assert [r["id"] for r in listed["results"]] == [run.pk]
    assert api(viewer).get("/api/v1/runbook-runs/?incident=x").status_code == 400


def test_active_filter_and_error_shape_for_other_team_runs(team, viewer, outsider):
    make_runbook(team, title="Live")
    make_runbook(team, title="Retired", is_active=False)
    client = api(viewer)
    active = client.get("/api/v1/runbooks/?active=true").json()["results"]
    assert [r["title"] for r in active] == ["Live"]
    retired = client.get("/api/v1/runbooks/?active=false").json()["results"]
    assert [r["title"] for r in retired] == ["Retired"]
    missing = api(outsider).post("/api/v1/runbook-runs/1/tick/", {"step": 1}, format="json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
