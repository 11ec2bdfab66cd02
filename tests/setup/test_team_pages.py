"""Team administration in the browser: members and roles, removal (never the last admin),
invite links (single use, expiring, hashed at rest, shown once), accepting and registering."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from accounts.actors import Actor
from accounts.invites import create_invite, find_invite
from accounts.models import AuditLog, Membership, Role, TeamInvite, User
from oncall.models import RotationMember
from tests.factories import MembershipFactory, UserFactory
from tests.oncall.factories import EscalationLevelFactory, EscalationPolicyFactory, RotationFactory
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def _page(team) -> str:
    return f"/teams/{team.slug}/"


def _invite(team, admin, role=Role.RESPONDER, **kwargs):
    return create_invite(team=team, role=role, actor=Actor.of_user(admin), **kwargs)


def test_every_member_reads_the_members_list_but_only_admins_see_invites(
    team, viewer, team_admin, outsider
):
    _invite(team, team_admin, email="new@example.com")
    page = client_for(viewer).get(_page(team))
    assert page.status_code == 200
    html = page.content.decode()
    assert viewer.username in html and team_admin.username in html
    assert "new@example.com" not in html and "Make invite link" not in html
    admin_html = client_for(team_admin).get(_page(team)).content.decode()
    assert "new@example.com" in admin_html and "Make invite link" in admin_html
    assert client_for(outsider).get(_page(team)).status_code == 404
    anonymous = client_for().get(_page(team))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_team_link_goes_to_the_current_team(team, viewer):
    response = client_for(viewer).get("/team/")
    assert response.status_code == 302 and response["Location"] == _page(team)


def test_member_list_query_count_is_flat(team, team_admin, django_assert_max_num_queries):
    for _ in range(15):
        MembershipFactory(team=team)
    for _ in range(5):
        _invite(team, team_admin)
    client = client_for(team_admin)
    client.get(_page(team))
    with django_assert_max_num_queries(14):
        assert client.get(_page(team)).status_code == 200


@pytest.mark.parametrize(
    "suffix,data",
    [
        ("members/{m}/role/", {"role": "30"}),
        ("members/{m}/remove/", {}),
        ("invites/", {"role": "20", "days": "7"}),
        ("invites/{i}/revoke/", {}),
    ],
)
def test_writes_are_guarded(team, team_admin, viewer, manager, outsider, guarded, suffix, data):
    invite = _invite(team, team_admin).invite
    member = Membership.objects.get(user=manager, team=team)
    url = _page(team) + suffix.format(m=member.pk, i=invite.pk)
    guarded(url, viewer=viewer, outsider=outsider, data=data)
    # A manager configures the team's services but does not manage its members.
    assert client_for(manager).post(url, data).status_code == 403


def test_admin_changes_a_role_and_it_is_audited(team, team_admin, responder):
    member = Membership.objects.get(user=responder, team=team)
    response = client_for(team_admin).post(
        f"{_page(team)}members/{member.pk}/role/", {"role": "30", "expected": "20"}
    )
    assert response.status_code == 303
    member.refresh_from_db()
    assert member.role == Role.MANAGER
    row = AuditLog.objects.get(action="membership.role_changed", team=team)
    assert (
        row.actor == team_admin and row.data["old"] == "responder" and row.data["new"] == "manager"
    )


def test_role_change_under_htmx_returns_the_members_fragment(team, team_admin, responder):
    member = Membership.objects.get(user=responder, team=team)
    response = client_for(team_admin).post(
        f"{_page(team)}members/{member.pk}/role/", {"role": "10", "expected": "20"}, **HTMX
    )
    assert response.status_code == 200
    assert "teamChanged" in response["HX-Trigger"]
    assert 'id="members"' in response.content.decode() and "<html" not in response.content.decode()
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_stale_role_change_is_refused(team, team_admin, responder):
    member = Membership.objects.get(user=responder, team=team)
    Membership.objects.filter(pk=member.pk).update(role=Role.MANAGER)  # someone else, meanwhile
    client = client_for(team_admin)
    response = client.post(
        f"{_page(team)}members/{member.pk}/role/", {"role": "10", "expected": "20"}
    )
    assert response.status_code == 303
    assert "someone made them manager" in client.get(_page(team)).content.decode()
    member.refresh_from_db()
    assert member.role == Role.MANAGER
    htmx = client.post(
        f"{_page(team)}members/{member.pk}/role/", {"role": "10", "expected": "20"}, **HTMX
    )
    assert htmx.status_code == 409 and htmx["HX-Retarget"] == "#flash"


def test_the_last_admin_can_be_neither_demoted_nor_removed(team, team_admin):
    member = Membership.objects.get(user=team_admin, team=team)
    client = client_for(team_admin)
    demote = client.post(f"{_page(team)}members/{member.pk}/role/", {"role": "20"}, **HTMX)
    assert demote.status_code == 409 and "last admin" in demote.content.decode()
    remove = client.post(f"{_page(team)}members/{member.pk}/remove/", **HTMX)
    assert remove.status_code == 409 and "last admin" in remove.content.decode()
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert not AuditLog.objects.filter(action__startswith="membership.").exists()


def test_removing_a_member_takes_them_off_rotations_and_levels(team, team_admin, responder):
    other = MembershipFactory(team=team).user
    rotation = RotationFactory(team=team)
    RotationMember.objects.create(rotation=rotation, user=responder, position=0)
    RotationMember.objects.create(rotation=rotation, user=other, position=1)
    level = EscalationLevelFactory(policy=EscalationPolicyFactory(team=team), number=2)
    level.users.add(responder)
    member = Membership.objects.get(user=responder, team=team)
    response = client_for(team_admin).post(f"{_page(team)}members/{member.pk}/remove/")
    assert response.status_code == 303
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert list(rotation.members.values_list("user_id", "position")) == [(other.pk, 0)]
    assert list(level.users.all()) == []
    assert AuditLog.objects.filter(action="membership.removed", target=responder.username).exists()
    assert AuditLog.objects.filter(action="oncall.member_forgotten").exists()


def test_invite_link_is_shown_once_and_only_its_hash_is_stored(
    team, team_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(team_admin).post(
            f"{_page(team)}invites/", {"role": "30", "days": "3", "email": "kim@example.com"}
        )
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    link = re.search(r"https?://[^\s<\"]+/invite/([A-Za-z0-9_\-]+)/", response.content.decode())
    assert link, "the link is in the answer"
    token = link.group(1)
    invite = TeamInvite.objects.get(team=team)
    assert invite.role == Role.MANAGER and token not in invite.digest
    assert find_invite(token) == invite
    assert token not in client_for(team_admin).get(_page(team)).content.decode()
    assert AuditLog.objects.filter(action="team.invite_created", team=team).count() == 1
    (message,) = mail.outbox
    assert message.to == ["kim@example.com"] and token in message.body


def test_invite_form_errors_stay_next_to_the_field(team, team_admin):
    response = client_for(team_admin).post(f"{_page(team)}invites/", {"role": "99", "days": "0"})
    assert response.status_code == 400
    assert not TeamInvite.objects.exists()
    assert "field-error" in response.content.decode()


def test_signed_in_user_accepts_an_invite_once(team, team_admin):
    issued = _invite(team, team_admin, role=Role.MANAGER)
    newcomer = UserFactory()
    client = client_for(newcomer)
    page = client.get(f"/invite/{issued.token}/")
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    assert team.name in page.content.decode()
    response = client.post(f"/invite/{issued.token}/")
    assert response.status_code == 303 and response["Location"] == _page(team)
    assert Membership.objects.get(user=newcomer, team=team).role == Role.MANAGER
    issued.invite.refresh_from_db()
    assert issued.invite.used_by == newcomer and issued.invite.used_at is not None
    assert AuditLog.objects.filter(action="team.invite_accepted", actor=newcomer).exists()
    second = client_for(UserFactory()).post(f"/invite/{issued.token}/")
    assert second.status_code == 404 and "already used" in second.content.decode()


def test_a_member_does_not_spend_an_invite(team, team_admin, responder):
    issued = _invite(team, team_admin)
    response = client_for(responder).post(f"/invite/{issued.token}/")
    assert response.status_code == 409
    issued.invite.refresh_from_db()
    assert issued.invite.used_at is None


def test_expired_and_revoked_invites_are_refused(team, team_admin):
    with freeze_time(timezone.now() - timedelta(days=8)):
        old = _invite(team, team_admin, days=7)
    revoked = _invite(team, team_admin)
    client = client_for(team_admin)
    assert client.post(f"{_page(team)}invites/{revoked.invite.pk}/revoke/").status_code == 303
    assert AuditLog.objects.filter(action="team.invite_revoked").count() == 1
    user = client_for(UserFactory())
    expired = user.post(f"/invite/{old.token}/")
    assert expired.status_code == 404 and "expired" in expired.content.decode()
    gone = user.post(f"/invite/{revoked.token}/")
    assert gone.status_code == 404 and "revoked" in gone.content.decode()
    assert user.get("/invite/not-a-real-token-at-all-123/").status_code == 404
    again = client.post(f"{_page(team)}invites/{revoked.invite.pk}/revoke/", **HTMX)
    assert again.status_code == 409


def test_new_person_registers_through_an_invite(team, team_admin):
    issued = _invite(team, team_admin, role=Role.VIEWER, email="sam@example.com")
    client = client_for()
    form = client.get(f"/invite/{issued.token}/")
    assert 'value="sam@example.com"' in form.content.decode()
    bad = client.post(
        f"/invite/{issued.token}/",
        {"username": "sam", "email": "sam@example.com", "password1": "short", "password2": "short"},
    )
    assert bad.status_code == 400 and not User.objects.filter(username="sam").exists()
    assert 'value="sam"' in bad.content.decode()
    response = client.post(
        f"/invite/{issued.token}/",
        {"username": "sam", "display_name": "Sam", "email": "sam@example.com",
         "password1": "a long enough passphrase", "password2": "a long enough passphrase"},
    )  # fmt: skip
    assert response.status_code == 303
    sam = User.objects.get(username="sam")
    assert sam.check_password("a long enough passphrase") and sam.display_name == "Sam"
    assert Membership.objects.get(user=sam, team=team).role == Role.VIEWER
    assert AuditLog.objects.filter(action="account.registered", actor=sam).exists()
    assert client.get(_page(team)).status_code == 200  # signed in now


def test_registration_is_refused_when_local_accounts_are_off(team, team_admin, settings):
    settings.LOCAL_ACCOUNTS_ENABLED = False
    issued = _invite(team, team_admin)
    client = client_for()
    assert "Create account" not in client.get(f"/invite/{issued.token}/").content.decode()
    response = client.post(
        f"/invite/{issued.token}/",
        {
            "username": "sam",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
    )
    assert response.status_code == 403 and not User.objects.filter(username="sam").exists()


def test_taken_username_is_shown_next_to_the_field(team, team_admin):
    UserFactory(username="sam")
    issued = _invite(team, team_admin)
    response = client_for().post(
        f"/invite/{issued.token}/",
        {
            "username": "SAM",
            "password1": "a long enough passphrase",
            "password2": "a long enough passphrase",
        },
    )
    assert response.status_code == 400 and "is taken" in response.content.decode()
    issued.invite.refresh_from_db()
    assert issued.invite.used_at is None
