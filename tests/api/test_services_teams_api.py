import pytest

from accounts.models import Role
from incidents.models import Service
from tests.api.factories import open_incident
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db


def payload(team, **extra):
    return {"team": team.pk, "name": "Voice bot", "slug": "voice-bot", "rto_minutes": 30, **extra}


# --- teams --------------------------------------------------------------------------------


def test_teams_lists_mine_with_my_role(make_client, viewer, team, outsider):
    second = TeamFactory()
    MembershipFactory(user=viewer, team=second, role=Role.MANAGER)
    body = make_client(viewer).get("/api/v1/teams/").json()
    roles = {row["id"]: row["role"] for row in body["results"]}
    assert roles == {team.pk: "viewer", second.pk: "manager"}


def test_team_of_other_users_is_404_and_teams_are_read_only(make_client, viewer, outsider, team):
    client = make_client(outsider)
    assert client.get(f"/api/v1/teams/{team.pk}/").status_code == 404
    assert make_client(viewer).get(f"/api/v1/teams/{team.pk}/").json()["slug"] == team.slug
    assert make_client(viewer).post("/api/v1/teams/", {}, format="json").status_code == 405


def test_teams_anonymous_401(anon, team):
    assert anon.get("/api/v1/teams/").status_code == 401
    assert anon.get(f"/api/v1/teams/{team.pk}/").status_code == 401


# --- services -----------------------------------------------------------------------------


def test_manager_creates_updates_deletes_a_service(make_client, manager, team):
    client = make_client(manager)
    response = client.post("/api/v1/services/", payload(team), format="json")
    assert response.status_code == 201, response.json()
    service = Service.objects.get(pk=response.json()["id"])
    assert service.team == team and service.rto_minutes == 30
    response = client.patch(
        f"/api/v1/services/{service.pk}/", {"downtime_cost_per_hour": "1200.50"}, format="json"
    )
    assert response.status_code == 200
    service.refresh_from_db()
    assert str(service.downtime_cost_per_hour) == "1200.50"
    assert client.delete(f"/api/v1/services/{service.pk}/").status_code == 204
    assert not Service.objects.filter(pk=service.pk).exists()


def test_service_with_incidents_cannot_be_deleted_409(make_client, manager, service):
    open_incident(service)
    response = make_client(manager).delete(f"/api/v1/services/{service.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "protected"
    assert Service.objects.filter(pk=service.pk).exists()


def test_service_writes_need_manager(make_client, responder, viewer, manager, team, service):
    for user in (responder, viewer):
        client = make_client(user)
        assert client.post("/api/v1/services/", payload(team), format="json").status_code == 403
        assert (
            client.patch(
                f"/api/v1/services/{service.pk}/", {"name": "x"}, format="json"
            ).status_code
            == 403
        )
        assert client.delete(f"/api/v1/services/{service.pk}/").status_code == 403
        assert client.get(f"/api/v1/services/{service.pk}/").status_code == 200
    read_only = make_client(manager, read_only=True)
    assert read_only.post("/api/v1/services/", payload(team), format="json").status_code == 403
    assert read_only.delete(f"/api/v1/services/{service.pk}/").status_code == 403
    assert Service.objects.count() == 1


def test_other_teams_services_are_invisible(make_client, outsider, team, service):
    client = make_client(outsider)
    assert service.pk not in [r["id"] for r in client.get("/api/v1/services/").json()["results"]]
    assert client.get(f"/api/v1/services/{service.pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/services/{service.pk}/", {"name": "x"}, format="json").status_code
        == 404
    )
    assert client.delete(f"/api/v1/services/{service.pk}/").status_code == 404
    # Creating in a team one is not in reads as "no such team".
    response = client.post("/api/v1/services/", payload(team), format="json")
    assert response.status_code == 400 and "team" in response.json()["error"]["fields"]
    assert Service.objects.count() == 1


def test_service_validation(make_client, manager, team, service):
    client = make_client(manager)
    dup = client.post("/api/v1/services/", payload(team, name=service.name), format="json")
    assert dup.status_code == 400
    response = client.post(
        "/api/v1/services/", payload(team, slug="bad slug!", rto_minutes=-1), format="json"
    )
    assert response.status_code == 400
    assert {"slug", "rto_minutes"} <= set(response.json()["error"]["fields"])
    other_team = TeamFactory()
    MembershipFactory(user=manager, team=other_team, role=Role.MANAGER)
    moved = client.patch(f"/api/v1/services/{service.pk}/", {"team": other_team.pk}, format="json")
    assert moved.status_code == 400
    service.refresh_from_db()
    assert service.team == team


def test_services_anonymous_401(anon, service, team):
    assert anon.get("/api/v1/services/").status_code == 401
    assert anon.post("/api/v1/services/", payload(team), format="json").status_code == 401
    assert anon.delete(f"/api/v1/services/{service.pk}/").status_code == 401


def test_filter_services_by_team(make_client, manager, team, service):
    other = TeamFactory()
    MembershipFactory(user=manager, team=other, role=Role.VIEWER)
    theirs = ServiceFactory(team=other)
    client = make_client(manager)
    ids = [r["id"] for r in client.get(f"/api/v1/services/?team={other.pk}").json()["results"]]
    assert ids == [theirs.pk]
