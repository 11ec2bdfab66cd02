"""POST /api/v1/incidents/<id>/merge/, links and snooze: the room's services over the API."""

from __future__ import annotations

import pytest

from accounts.models import AuditLog
from incidents import services
from incidents.actors import Actor
from incidents.models import IncidentLink, IncidentMerge, Status
from tests.factories import ServiceFactory, TeamFactory, open_incident

pytestmark = pytest.mark.django_db


def test_merge_endpoint_merges_and_returns_the_kept_incident(service, responder, make_client):
    keep = open_incident(service, title="keep")
    dup = open_incident(service, title="dup")
    api = make_client(responder)
    response = api.post(f"/api/v1/incidents/{keep.pk}/merge/", {"incident": dup.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == keep.pk
    dup.refresh_from_db()
    assert dup.status == Status.RESOLVED
    assert IncidentMerge.objects.get().target_id == keep.pk
    audit = AuditLog.objects.get(action="incident.merged")
    assert audit.data["token"] == api.token.prefix


def test_merge_endpoint_refusals_are_clear(service, responder, viewer, outsider, make_client, anon):
    keep = open_incident(service, title="keep")
    dup = open_incident(service, title="dup")
    url = f"/api/v1/incidents/{keep.pk}/merge/"
    api = make_client(responder)

    assert api.get(url).status_code == 405
    assert anon.post(url, {"incident": dup.pk}, format="json").status_code == 401
    assert make_client(viewer).post(url, {"incident": dup.pk}, format="json").status_code == 403
    assert (
        make_client(responder, read_only=True)
        .post(url, {"incident": dup.pk}, format="json")
        .status_code
        == 403
    )
    # Another team's incident, on either side: 404.
    theirs = open_incident(ServiceFactory(team=outsider.memberships.first().team))
    assert api.post(url, {"incident": theirs.pk}, format="json").status_code == 404
    outsider_api = make_client(outsider)
    assert outsider_api.post(url, {"incident": dup.pk}, format="json").status_code == 404

    response = api.post(url, {"incident": "x"}, format="json")
    assert response.status_code == 400 and "incident" in response.json()["error"]["fields"]
    response = api.post(url, {"incident": keep.pk}, format="json")
    assert response.status_code == 400 and "into itself" in response.json()["error"]["message"]

    services.resolve(incident=dup, actor=Actor.system("t"))
    response = api.post(url, {"incident": dup.pk}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "merge_refused"
    assert "is resolved" in response.json()["error"]["message"]
    assert not IncidentMerge.objects.exists()


def test_merge_endpoint_refuses_across_teams_of_one_member(service, responder, make_client):
    from accounts.models import Role
    from tests.factories import MembershipFactory

    other_team = TeamFactory()
    MembershipFactory(team=other_team, user=responder, role=Role.RESPONDER)
    keep = open_incident(service, title="keep")
    elsewhere = open_incident(ServiceFactory(team=other_team), title="elsewhere")
    response = make_client(responder).post(
        f"/api/v1/incidents/{keep.pk}/merge/", {"incident": elsewhere.pk}, format="json"
    )
    assert response.status_code == 409 and "different teams" in response.json()["error"]["message"]


def test_links_and_snooze_endpoints(service, responder, viewer, make_client):
    one = open_incident(service, title="one")
    two = open_incident(service, title="two")
    api = make_client(responder)
    response = api.post(f"/api/v1/incidents/{one.pk}/links/", {"incident": two.pk}, format="json")
    assert response.status_code == 201
    assert [row["reference"] for row in response.json()] == [two.reference]
    listed = make_client(viewer).get(f"/api/v1/incidents/{two.pk}/links/")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()] == [one.pk]
    again = api.post(f"/api/v1/incidents/{two.pk}/links/", {"incident": one.pk}, format="json")
    assert again.status_code == 409
    assert api.delete(f"/api/v1/incidents/{two.pk}/links/{one.pk}/").status_code == 200
    assert not IncidentLink.objects.exists()

    url = f"/api/v1/incidents/{one.pk}/snooze/"
    assert api.post(url, {"minutes": 30}, format="json").status_code == 409  # triggered
    assert api.post(f"/api/v1/incidents/{one.pk}/acknowledge/").json()["assignee"]["id"] == (
        responder.pk
    )
    assert api.post(url, {"minutes": 0}, format="json").status_code == 400
    assert api.post(url, {"minutes": 30}, format="json").status_code == 200
    assert api.post(f"/api/v1/incidents/{one.pk}/unsnooze/").status_code == 200
    assert api.post(f"/api/v1/incidents/{one.pk}/unsnooze/").status_code == 409


def test_merge_endpoint_is_in_the_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/incidents/{id}/merge/"]["post"]
    assert operation["summary"] == "Merge a duplicate into this incident"
    assert "dedup key" in operation["description"]
    assert "/api/v1/incidents/{id}/links/{other}/" in schema["paths"]
