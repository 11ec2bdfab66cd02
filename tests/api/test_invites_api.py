"""Team invites and member removal through the API: the same services as the team page."""

from __future__ import annotations

import pytest

from accounts.invites import find_invite
from accounts.models import AuditLog, Membership, TeamInvite

pytestmark = pytest.mark.django_db


def test_admin_creates_lists_and_revokes_an_invite(make_client, team_admin, team):
    client = make_client(team_admin)
    created = client.post(
        "/api/v1/invites/", {"team": team.pk, "role": "manager", "days": 2}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["role"] == "manager" and body["state"] == "pending"
    token = body["url"].rstrip("/").rsplit("/", 1)[1]
    invite = TeamInvite.objects.get(pk=body["id"])
    assert find_invite(token) == invite
    listed = client.get("/api/v1/invites/").json()["results"]
    assert [row["id"] for row in listed] == [invite.pk] and "url" not in listed[0]
    revoked = client.post(f"/api/v1/invites/{invite.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert client.post(f"/api/v1/invites/{invite.pk}/revoke/").status_code == 409
    assert AuditLog.objects.filter(action="team.invite_revoked").count() == 1


def test_invites_are_for_admins_only(make_client, manager, outsider, team, team_admin):
    assert (
        make_client(manager)
        .post("/api/v1/invites/", {"team": team.pk, "role": "viewer"}, format="json")
        .status_code
        == 403
    )
    assert (
        make_client(outsider)
        .post("/api/v1/invites/", {"team": team.pk, "role": "viewer"}, format="json")
        .status_code
        == 404
    )
    make_client(team_admin).post("/api/v1/invites/", {"team": team.pk}, format="json")
    assert make_client(manager).get("/api/v1/invites/").json()["results"] == []
    assert not TeamInvite.objects.filter(role=10).exists()


def test_admin_removes_a_member_but_never_the_last_admin(
    make_client, team_admin, responder, manager, team
):
    client = make_client(team_admin)
    member = Membership.objects.get(user=responder, team=team)
    assert make_client(manager).delete(f"/api/v1/memberships/{member.pk}/").status_code == 403
    assert client.delete(f"/api/v1/memberships/{member.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()
    me = Membership.objects.get(user=team_admin, team=team)
    refused = client.delete(f"/api/v1/memberships/{me.pk}/")
    assert refused.status_code == 409 and "last admin" in refused.json()["error"]["message"]
    assert Membership.objects.filter(pk=me.pk).exists()
