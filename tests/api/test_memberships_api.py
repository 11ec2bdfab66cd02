import pytest

from accounts.models import AuditLog, Membership, Role
from incidents.actors import Actor

pytestmark = pytest.mark.django_db


def url(membership):
    return f"/api/v1/memberships/{membership.pk}/"


def test_members_of_my_teams_are_listed_with_role_names(
    make_client, viewer, responder, outsider, team
):
    body = make_client(viewer).get(f"/api/v1/memberships/?team={team.pk}").json()
    rows = {row["user"]["username"]: row["role"] for row in body["results"]}
    assert rows == {viewer.username: "viewer", responder.username: "responder"}
    assert outsider.username not in str(make_client(viewer).get("/api/v1/memberships/").json())


def test_team_admin_changes_a_role_with_an_audit_row(make_client, team_admin, responder, team):
    membership = Membership.objects.get(user=responder, team=team)
    client = make_client(team_admin)
    response = client.patch(
        url(membership), {"role": "manager"}, format="json", REMOTE_ADDR="10.9.8.7"
    )
    assert response.status_code == 200 and response.json()["role"] == "manager"
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER
    row = AuditLog.objects.get(action="membership.role_changed")
    assert row.actor == team_admin and row.team == team and row.ip_address == "10.9.8.7"
    assert row.data == {
        "user_id": responder.pk,
        "old": "responder",
        "new": "manager",
        "token": client.token.prefix,  # which token did it, never the secret
    }


def test_role_changes_need_admin_and_a_writable_token(
    make_client, manager, viewer, responder, team_admin, team
):
    membership = Membership.objects.get(user=responder, team=team)
    for client in (
        make_client(manager),
        make_client(viewer),
        make_client(team_admin, read_only=True),
    ):
        response = client.patch(url(membership), {"role": "admin"}, format="json")
        assert response.status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.RESPONDER
    assert not AuditLog.objects.filter(action="membership.role_changed").exists()


def test_other_teams_memberships_are_404(make_client, outsider, responder, team):
    membership = Membership.objects.get(user=responder, team=team)
    client = make_client(outsider)
    assert client.get(url(membership)).status_code == 404
    assert client.patch(url(membership), {"role": "viewer"}, format="json").status_code == 404


def test_last_admin_cannot_be_demoted(make_client, team_admin, team):
    membership = Membership.objects.get(user=team_admin, team=team)
    response = make_client(team_admin).patch(url(membership), {"role": "viewer"}, format="json")
    assert response.status_code == 409
    assert "last admin" in response.json()["error"]["message"]
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_bad_role_is_400_and_put_is_405(make_client, team_admin, responder, team, anon):
    membership = Membership.objects.get(user=responder, team=team)
    client = make_client(team_admin)
    response = client.patch(url(membership), {"role": "owner"}, format="json")
    assert response.status_code == 400 and "role" in response.json()["error"]["fields"]
    # DELETE removes a member (tests/api/test_invites_api.py); PUT stays refused.
    assert client.put(url(membership), {"role": "viewer"}, format="json").status_code == 405
    assert anon.patch(url(membership), {"role": "viewer"}, format="json").status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin():
    import threading

    from django.db import connection

    from accounts.services import MembershipError, change_role
    from tests.factories import MembershipFactory, TeamFactory

    team = TeamFactory()
    first = MembershipFactory(team=team, role=Role.ADMIN)
    second = MembershipFactory(team=team, role=Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(membership, by):
        try:
            barrier.wait()
            change_role(membership=membership, role=Role.VIEWER, actor=Actor.of_user(by))
            outcomes.append("ok")
        except MembershipError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second.user)),
        threading.Thread(target=demote, args=(second, first.user)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Membership.objects.filter(team=team, role=Role.ADMIN).count() == 1
