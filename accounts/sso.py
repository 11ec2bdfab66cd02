"""Single sign-on with OpenID Connect (authorization code flow with PKCE, mozilla-django-oidc).

- People are matched by (issuer, subject) through ``ExternalIdentity``, never by email.
- The first login creates the account; the groups claim decides the teams and roles through
  ``OIDC_GROUP_MAP`` ("group=team-slug:role,..."), at every login, for the teams the map names
  (memberships in other teams, granted by hand, are left alone).
- A person none of whose groups is mapped is refused before anything is written: no account,
  no half-made membership, and a page saying to ask an admin.
- Logging out ends the provider session too when it has an end-session endpoint.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import logout as auth_logout
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts import audit
from accounts.models import ExternalIdentity, Membership, Role, Team

log = logging.getLogger(__name__)
REFUSAL_KEY = "sso_refusal"
ROLES = {role.label: role for role in Role}


@checks.register(checks.Tags.security)
def check_sso_settings(app_configs=None, **kwargs) -> list:
    """``manage.py check`` (and every start) names a bad OIDC_GROUP_MAP or missing endpoint."""
    if not settings.OIDC_RP_CLIENT_ID:
        return []
    problems = []
    try:
        parse_group_map(settings.OIDC_GROUP_MAP)
    except ImproperlyConfigured as exc:
        problems.append(checks.Error(str(exc), id="vigil.sso.E001"))
    for name in ("OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT",
                 "OIDC_OP_USER_ENDPOINT", "OIDC_OP_JWKS_ENDPOINT"):  # fmt: skip
        if not getattr(settings, name):
            problems.append(
                checks.Error(f"OIDC_RP_CLIENT_ID is set but {name} is empty", id="vigil.sso.E002")
            )
    if not settings.OIDC_GROUP_MAP:
        problems.append(
            checks.Warning(
                "OIDC_GROUP_MAP is empty: every single sign-on login will be refused",
                id="vigil.sso.W001",
            )
        )
    return problems


def sso_enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID and settings.OIDC_OP_AUTHORIZATION_ENDPOINT)


@dataclass(frozen=True)
class Grant:
    group: str
    team_slug: str
    role: Role


def parse_group_map(text: str) -> list[Grant]:
    """``"sre=platform:responder, leads=platform:manager"`` -> grants. Raises
    ImproperlyConfigured naming the bad entry, so a typo fails loudly at the first login."""
    grants = []
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        group, sep, rest = entry.rpartition("=")
        team_slug, sep2, role_name = rest.partition(":")
        role = ROLES.get(role_name.strip().lower())
        if not sep or not sep2 or not group.strip() or not team_slug.strip() or role is None:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_MAP entry {entry!r} is not group=team-slug:role with a role of "
                f"{', '.join(ROLES)}"
            )
        grants.append(Grant(group.strip(), team_slug.strip(), role))
    return grants


def roles_for_groups(groups: list[str]) -> tuple[dict[int, Role], set[int]]:
    """(team id -> highest granted role, ids of every team the map governs)."""
    grants = parse_group_map(settings.OIDC_GROUP_MAP)
    teams = {t.slug: t.pk for t in Team.objects.filter(slug__in={g.team_slug for g in grants})}
    for grant in grants:
        if grant.team_slug not in teams:
            log.warning("OIDC_GROUP_MAP names team %r, which does not exist", grant.team_slug)
    governed = {teams[g.team_slug] for g in grants if g.team_slug in teams}
    granted: dict[int, Role] = {}
    member_of = set(groups)
    for grant in grants:
        team_id = teams.get(grant.team_slug)
        if team_id is not None and grant.group in member_of:
            granted[team_id] = max(granted.get(team_id, Role.VIEWER), grant.role)
    return granted, governed


def _groups_of(claims: dict) -> list[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(g)[:200] for g in value if isinstance(g, str | int)][:500]


def _free_username(claims: dict) -> str:
    User = get_user_model()
    email = claims.get("email") or ""
    base = (claims.get("preferred_username") or email.split("@")[0] or "sso-user").strip()
    base = "".join(ch for ch in base if ch.isalnum() or ch in "@.+-_")[:140] or "sso-user"
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


class VigilOIDCBackend(OIDCAuthenticationBackend):
    """Identity by (iss, sub); teams and roles from the groups claim; refusal before writes."""

    def authenticate(self, request, **kwargs):
        if not sso_enabled():
            return None
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        claims = {**payload, **(self.get_userinfo(access_token, id_token, payload) or {})}
        if claims.get("sub") != payload.get("sub"):
            log.warning("userinfo subject differs from the ID token's: refused")
            return None
        issuer, subject = str(payload.get("iss", ""))[:255], str(payload["sub"])[:255]
        groups = _groups_of(claims)
        granted, governed = roles_for_groups(groups)
        identity = (
            ExternalIdentity.objects.select_related("user")
            .filter(issuer=issuer, subject=subject)
            .first()
        )
        who = claims.get("email") or claims.get("preferred_username") or subject
        if not granted:
            self._refuse(who, groups, issuer)
            return None
        try:
            with transaction.atomic():
                user = self._sync(identity, claims, issuer, subject, groups, granted, governed)
        except IntegrityError:
            # Two first logins of one person at once: the other one created the account.
            identity = ExternalIdentity.objects.select_related("user").get(
                issuer=issuer, subject=subject
            )
            return identity.user
        return user

    def _refuse(self, who: str, groups: list[str], issuer: str) -> None:
        audit.record(
            action="sso.login_refused",
            actor_label=str(who)[:150],
            request=self.request,
            data={"issuer": issuer, "groups": groups[:50], "reason": "no mapped group"},
        )
        self.request.session[REFUSAL_KEY] = {"who": str(who)[:200], "groups": groups[:50]}

    def _sync(self, identity, claims, issuer, subject, groups, granted, governed):
        User = get_user_model()
        now = timezone.now()
        if identity is None:
            user = User(username=_free_username(claims))
            user.set_unusable_password()
            created = True
        else:
            user = User.objects.select_for_update().get(pk=identity.user_id)
            created = False
        user.email = (claims.get("email") or user.email or "")[:254]
        user.first_name = (claims.get("given_name") or user.first_name or "")[:150]
        user.last_name = (claims.get("family_name") or user.last_name or "")[:150]
        if claims.get("name"):
            user.display_name = str(claims["name"])[:150]
        user.save()
        if created:
            identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        identity.last_login_at, identity.last_groups = now, groups
        identity.save(update_fields=["last_login_at", "last_groups"])

        changes = []
        existing = {
            m.team_id: m for m in Membership.objects.filter(user=user, team_id__in=governed)
        }
        for team_id, role in granted.items():
            membership = existing.pop(team_id, None)
            if membership is None:
                Membership.objects.create(user=user, team_id=team_id, role=role)
                changes.append({"team": team_id, "role": role.label, "was": None})
            elif membership.role != role:
                changes.append({"team": team_id, "role": role.label,
                                "was": Role(membership.role).label})  # fmt: skip
                membership.role = role
                membership.save(update_fields=["role"])
        for team_id, membership in existing.items():  # no longer granted by any group
            changes.append({"team": team_id, "role": None, "was": Role(membership.role).label})
            membership.delete()
        if created:
            audit.record(action="sso.user_created", actor=user, request=self.request,
                         target=user.username, data={"issuer": issuer, "groups": groups[:50]})  # fmt: skip
        if changes:
            audit.record(action="sso.roles_synced", actor=user, request=self.request,
                         target=user.username, data={"changes": changes})  # fmt: skip
        return user


class SSOLoginStart(OIDCAuthenticationRequestView):
    """The login button's target: 404 while single sign-on is not configured."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is not configured")
        return super().get(request)


def provider_logout_url(request: HttpRequest) -> str:
    """RP-initiated logout: the provider's end-session endpoint with the ID token as a hint,
    coming back to Vigil's login page. Without an endpoint, just Vigil's login page."""
    back = settings.BASE_URL + "/login/"
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    id_token = request.session.get("oidc_id_token")
    if not endpoint or not id_token:
        return back
    query = urlencode(
        {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": back,
            "client_id": settings.OIDC_RP_CLIENT_ID,
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Log out of Vigil; a single sign-on session is ended at the provider as well."""
    target = provider_logout_url(request) if request.session.get("oidc_id_token") else None
    auth_logout(request)
    return HttpResponseRedirect(target or resolve_url(settings.LOGOUT_REDIRECT_URL))


@require_GET
def refused(request: HttpRequest) -> HttpResponse:
    refusal = request.session.pop(REFUSAL_KEY, None)
    return render(request, "accounts/sso_refused.html", {"refusal": refusal}, status=403)


urlpatterns = [
    path("oidc/authenticate/", SSOLoginStart.as_view(), name="oidc_authentication_init"),
    path(
        "oidc/callback/",
        OIDCAuthenticationCallbackView.as_view(),
        name="oidc_authentication_callback",
    ),
    path("sso/refused/", refused, name="sso-refused"),
]
