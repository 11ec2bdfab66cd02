"""REST API: team-scoped policies and rotations; writes need the manager role."""

from __future__ import annotations

import datetime

import pytest

from oncall.models import EscalationPolicy, Rotation
from tests.oncall.factories import EscalationLevelFactory, EscalationPolicyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(team):
    policy = EscalationPolicyFactory(team=team, name="Default")
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10)
    return policy


def test_anonymous_gets_401(client):
    response = client.get("/api/v1/oncall/policies/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_list_shows_only_own_team(client, viewer, policy, outsider):
    EscalationPolicyFactory(team=outsider.memberships.get().team, name="Theirs")
    client.force_login(viewer)
    response = client.get("/api/v1/oncall/policies/")
    assert response.status_code == 200
    body = response.json()
    names = [p["name"] for p in (body["results"] if isinstance(body, dict) else body)]
    assert names == ["Default"]


def test_other_team_policy_is_404(client, outsider, policy):
    client.force_login(outsider)
    assert client.get(f"/api/v1/oncall/policies/{policy.pk}/").status_code == 404
    assert (
        client.patch(
            f"/api/v1/oncall/policies/{policy.pk}/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 404
    )


def test_responder_cannot_change_a_policy(client, responder, policy):
    client.force_login(responder)
    response = client.patch(
        f"/api/v1/oncall/policies/{policy.pk}/", {"name": "Mine"}, content_type="application/json"
    )
    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.name == "Default"


def test_manager_creates_a_policy_and_bad_rules_are_400(client, manager, team):
    client.force_login(manager)
    created = client.post(
        "/api/v1/oncall/policies/",
        {"team": team.pk, "name": "Night", "repeat_last_level": 3},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert EscalationPolicy.objects.get(name="Night").severity_rules["5"]["inform"] == [4]
    bad = client.post(
        "/api/v1/oncall/policies/",
        {"team": team.pk, "name": "Bad", "severity_rules": {"1": {"start": 3, "stop": 1}}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "severity_rules" in bad.json()["error"]["fields"]


def test_rotation_create_and_who_is_on_call(client, manager, responder, team):
    client.force_login(manager)
    response = client.post(
        "/api/v1/oncall/rotations/",
        {
            "team": team.pk, "name": "Primary", "time_zone": "America/New_York",
            "shift_hours": 24, "handoff_time": "09:00", "start_date": "2024-03-01",
            "members": [responder.pk, manager.pk],
        },
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    rotation = Rotation.objects.get(name="Primary")
    assert response.json()["members"] == [responder.pk, manager.pk]
    on_call = client.get(
        f"/api/v1/oncall/rotations/{rotation.pk}/on-call/?at=2024-03-01T15:00:00Z"
    ).json()
    assert on_call["user"] == responder.pk
    assert on_call["next_handoff"].startswith("2024-03-02T14:00:00")

    override = client.post(
        f"/api/v1/oncall/rotations/{rotation.pk}/overrides/",
        {"user": manager.pk, "start": "2024-03-01T12:00:00Z", "end": "2024-03-01T18:00:00Z"},
        content_type="application/json",
    )
    assert override.status_code == 201
    on_call = client.get(
        f"/api/v1/oncall/rotations/{rotation.pk}/on-call/?at=2024-03-01T15:00:00Z"
    ).json()
    assert on_call["user"] == manager.pk


def test_rotation_bad_input_is_400(client, manager, team, outsider):
    client.force_login(manager)
    response = client.post(
        "/api/v1/oncall/rotations/",
        {"team": team.pk, "name": "X", "time_zone": "Mars/Olympus", "start_date": "2024-01-01",
         "members": [outsider.pk]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) >= {"time_zone"}
    rotation = Rotation.objects.create(team=team, name="Y", start_date=datetime.date(2024, 1, 1))
    bad_at = client.get(f"/api/v1/oncall/rotations/{rotation.pk}/on-call/?at=yesterday")
    assert bad_at.status_code == 400
