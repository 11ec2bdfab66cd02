"""Single sign-on end to end: a browser-like client, Vigil as a live server and a real OpenID
Connect provider process, the authorization-code flow with PKCE through real HTTP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from accounts.models import AuditLog, ExternalIdentity, Membership, Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in_at_provider(session: requests.Session, response, username, password):
    """Fill the provider's own login form (it sits between authorize and the callback)."""
    assert "Sign in at the provider" in response.text, response.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)
    next_url = re.search(r'name="next" value="([^"]+)"', response.text).group(1)
    return session.post(
        response.url,
        data={
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": password,
            "next": next_url.replace("&amp;", "&"),
        },  # fmt: skip
        headers={"Referer": response.url},
    )


def start_login(session, live_server, next_path="/oncall/"):
    first = session.get(
        f"{live_server.url}/oidc/authenticate/?next={next_path}", allow_redirects=False
    )
    assert first.status_code == 302
    return first


@pytest.fixture
def platform(db):
    return TeamFactory(name="Platform", slug="platform")


def test_first_login_creates_the_user_with_the_mapped_team_and_role(
    sso_settings, live_server, oidc_provider, platform
):
    session = requests.Session()
    login_page = session.get(f"{live_server.url}/login/")
    assert "Log in with your company account" in login_page.text
    assert 'name="password"' in login_page.text  # the local form is still there

    first = start_login(session, live_server)
    authorize = urlsplit(first.headers["Location"])
    query = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}" == oidc_provider
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43 and query["nonce"] and query["state"]

    provider_login = session.get(first.headers["Location"])
    landed = sign_in_at_provider(session, provider_login, "alice", "alice-pass")
    assert landed.status_code == 200
    assert landed.url == f"{live_server.url}/oncall/"
    assert "On call now" in landed.text

    identity = ExternalIdentity.objects.select_related("user").get()
    user = identity.user
    assert user.username == "alice" and user.email == "alice@example.com"
    assert user.display_name == "Alice Ops" and not user.has_usable_password()
    assert identity.issuer.startswith(oidc_provider) and identity.subject
    assert identity.last_groups == ["everyone", "vigil-sre"]
    membership = Membership.objects.get(user=user)
    assert membership.team == platform and membership.role == Role.RESPONDER
    assert AuditLog.objects.filter(action="sso.user_created", actor=user).exists()
    assert AuditLog.objects.filter(action="login", actor=user).exists()


def test_second_login_reuses_the_account_and_follows_group_changes(
    sso_settings, live_server, platform
):
    session = requests.Session()
    sign_in_at_provider(session, session.get(start_login(session, live_server).headers["Location"]),
                        "lena", "lena-pass")  # fmt: skip
    user = ExternalIdentity.objects.get().user
    assert Membership.objects.get(user=user).role == Role.MANAGER  # highest mapped group wins

    # The admin narrows the map: lena's groups now give only responder.
    sso_settings.OIDC_GROUP_MAP = "vigil-sre=platform:responder"
    session.post(f"{live_server.url}/logout/",
                 data={"csrfmiddlewaretoken": session.cookies["csrftoken"]})  # fmt: skip
    again = requests.Session()
    provider_login = again.get(start_login(again, live_server).headers["Location"])
    sign_in_at_provider(again, provider_login, "lena", "lena-pass")
    assert ExternalIdentity.objects.count() == 1
    assert Membership.objects.get(user=user).role == Role.RESPONDER
    assert AuditLog.objects.filter(action="sso.roles_synced", actor=user).count() == 2


def test_unmapped_groups_get_an_ask_your_admin_page_and_no_account(
    sso_settings, live_server, platform
):
    from django.contrib.auth import get_user_model

    users_before = get_user_model().objects.count()
    session = requests.Session()
    provider_login = session.get(start_login(session, live_server).headers["Location"])
    landed = sign_in_at_provider(session, provider_login, "bob", "bob-pass")
    assert landed.status_code == 403
    assert landed.url == f"{live_server.url}/sso/refused/"
    assert "Ask your Vigil admin" in landed.text and "marketing" in landed.text
    assert get_user_model().objects.count() == users_before
    assert not ExternalIdentity.objects.exists() and not Membership.objects.exists()
    assert AuditLog.objects.filter(action="sso.login_refused").exists()
    assert session.get(f"{live_server.url}/oncall/", allow_redirects=False).status_code == 302


def test_logout_ends_the_provider_session_too(sso_settings, live_server, oidc_provider, platform):
    session = requests.Session()
    provider_login = session.get(start_login(session, live_server).headers["Location"])
    sign_in_at_provider(session, provider_login, "alice", "alice-pass")
    # While the provider session lives, a new login goes straight through.
    straight = session.get(start_login(session, live_server).headers["Location"])
    assert straight.url == f"{live_server.url}/oncall/"

    out = session.post(f"{live_server.url}/logout/",
                       data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
                       allow_redirects=False)  # fmt: skip
    assert out.status_code == 302
    end_session = urlsplit(out.headers["Location"])
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == (
        f"{oidc_provider}/o/logout/"
    )
    assert parse_qs(end_session.query)["post_logout_redirect_uri"] == [f"{live_server.url}/login/"]
    back = session.get(out.headers["Location"])
    assert back.url == f"{live_server.url}/login/"
    # The provider forgot the person: logging in asks for the password again.
    again = session.get(start_login(session, live_server).headers["Location"])
    assert "Sign in at the provider" in again.text


def test_local_accounts_still_log_in_beside_sso(sso_settings, client, platform):
    user = UserFactory(username="local-admin")
    user.set_password("local-pass-123")
    user.save()
    MembershipFactory(user=user, team=platform, role=Role.ADMIN)
    response = client.post("/login/", {"username": "local-admin", "password": "local-pass-123"})
    assert response.status_code == 302
    assert client.get("/oncall/").status_code == 200


def test_an_sso_subject_never_takes_over_a_local_account_with_the_same_email(
    sso_settings, live_server, platform
):
    local = UserFactory(username="alice", email="alice@example.com")
    session = requests.Session()
    provider_login = session.get(start_login(session, live_server).headers["Location"])
    sign_in_at_provider(session, provider_login, "alice", "alice-pass")
    identity = ExternalIdentity.objects.select_related("user").get()
    assert identity.user != local and identity.user.username == "alice-2"


def test_without_configuration_there_is_no_button_and_no_flow(client, settings, db):
    settings.OIDC_RP_CLIENT_ID = ""
    assert "company account" not in client.get("/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404


def test_system_check_names_a_bad_group_map(settings):
    from accounts.sso import check_sso_settings

    settings.OIDC_RP_CLIENT_ID = "vigil"
    settings.OIDC_GROUP_MAP = "sre=platform:boss"
    errors = check_sso_settings()
    assert any("sre=platform:boss" in e.msg and e.id == "vigil.sso.E001" for e in errors)
    settings.OIDC_RP_CLIENT_ID = ""
    assert check_sso_settings() == []
