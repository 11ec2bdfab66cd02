"""Team administration pages: members and their roles, invite links, and accepting an invite.

Every member reads the members list; admins change roles, remove members and make or revoke
invites (403 otherwise); another team is a 404. An invite link is shown once, in the answer to
the POST that made it (no redirect: the token must not pass through the session or a message
cookie). Writes go through accounts.services / accounts.invites, which write the audit rows.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts import invites
from accounts.actors import Actor
from accounts.audit import client_ip
from accounts.models import Membership, Role, Team, TeamInvite
from accounts.permissions import Action, can, team_ids_of
from accounts.services import change_role, remove_member
from config.baseurl import public_base_url
from config.errors import DomainError
from config.pages import error_to_form, require_role
from config.web import refuse, see_other

ROLE_CHOICES = [(role.value, role.label) for role in Role]


class InviteForm(forms.Form):
    role = forms.TypedChoiceField(
        label=gettext_lazy("Role"), choices=ROLE_CHOICES, coerce=int, initial=Role.RESPONDER
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail (optional)"),
        required=False,
        help_text=gettext_lazy("Vigil mails the link there too. Leave empty to copy it yourself."),
    )
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=invites.MAX_INVITE_DAYS,
        initial=settings.TEAM_INVITE_DAYS,
    )


class RegisterForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    display_name = forms.CharField(
        label=gettext_lazy("Display name"), max_length=150, required=False
    )
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    password1 = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput(render_value=False), strip=False
    )
    password2 = forms.CharField(
        label=gettext_lazy("Password again"),
        widget=forms.PasswordInput(render_value=False),
        strip=False,
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


def _team_of(request: HttpRequest, slug: str) -> Team:
    team = Team.objects.filter(slug=slug, pk__in=team_ids_of(request.user)).first()
    if team is None:
        raise Http404("No such team")
    return team


def _membership_of(team: Team, pk: int) -> Membership:
    membership = Membership.objects.select_related("user").filter(pk=pk, team=team).first()
    if membership is None:
        raise Http404("No such member")
    return membership


def _context(request, team: Team, **extra) -> dict:
    is_admin = can(request.user, team, Action.ADMINISTER)
    members = list(
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("-role", "user__username")
    )
    admins = sum(1 for m in members if m.role == Role.ADMIN)
    pending = []
    if is_admin:
        now = timezone.now()
        pending = [
            (invite, invite.state(now))
            for invite in TeamInvite.objects.filter(team=team).select_related(
                "created_by", "used_by"
            )[:30]
        ]
    return {
        "nav": "team",
        "team": team,
        "members": members,
        "last_admin_id": members[0].pk
        if admins == 1 and members and members[0].role == Role.ADMIN
        else None,
        "is_admin": is_admin,
        "invites": pending,
        "invite_form": extra.pop("invite_form", None) or InviteForm(),
        "roles": ROLE_CHOICES,
        "local_accounts": settings.LOCAL_ACCOUNTS_ENABLED,
        **extra,
    }


@login_required
@require_GET
def my_team(request: HttpRequest) -> HttpResponse:
    """The team chosen in the switcher (or the first), so the top bar can link here."""
    ids = team_ids_of(request.user)
    if not ids:
        raise Http404("You belong to no team yet: open an invite link from a team admin.")
    chosen = request.session.get("team_id")
    team = Team.objects.get(pk=chosen if chosen in ids else ids[0])
    return redirect("team-page", slug=team.slug)


@login_required
@require_GET
def team_page(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_of(request, slug)
    return render(request, "accounts/team.html", _context(request, team))


def _after_write(request, team: Team, event: dict) -> HttpResponse:
    if request.htmx:
        response = render(request, "accounts/team.html#members", _context(request, team))
        return trigger_client_event(response, "teamChanged", event)
    return see_other(reverse("team-page", args=[team.slug]))


@login_required
@require_POST
def member_role(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team_of(request, slug)
    require_role(request.user, team, Action.ADMINISTER, doing=_("Changing a member's role"))
    membership = _membership_of(team, pk)
    try:
        role = Role(int(request.POST.get("role", "")))
        expected = Role(int(request.POST["expected"])) if request.POST.get("expected") else None
    except (TypeError, ValueError):
        return refuse(
            request,
            _("role: viewer, responder, manager or admin"),
            400,
            reverse("team-page", args=[slug]),
        )
    try:
        change_role(
            membership=membership, role=role, actor=Actor.of_request(request), expected=expected
        )
    except DomainError as exc:
        return refuse(request, exc.message, exc.status, reverse("team-page", args=[slug]))
    if not request.htmx:
        messages.success(
            request, _("%(user)s is now %(role)s.") % {"user": membership.user, "role": role.label}
        )
    return _after_write(request, team, {"member": membership.pk, "role": role.label})


@login_required
@require_POST
def member_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team_of(request, slug)
    require_role(request.user, team, Action.ADMINISTER, doing=_("Removing a member"))
    membership = _membership_of(team, pk)
    try:
        remove_member(membership=membership, actor=Actor.of_request(request))
    except DomainError as exc:
        return refuse(request, exc.message, exc.status, reverse("team-page", args=[slug]))
    if membership.user_id == request.user.pk:
        request.user.__dict__.pop("_vigil_roles", None)
        messages.success(request, _("You left %(team)s.") % {"team": team.name})
        return see_other("/")
    if not request.htmx:
        messages.success(
            request,
            _("%(user)s was removed from %(team)s.") % {"user": membership.user, "team": team.name},
        )
    return _after_write(request, team, {"removed": membership.pk})


@login_required
@require_POST
def invite_new(request: HttpRequest, slug: str) -> HttpResponse:
    team = _team_of(request, slug)
    require_role(request.user, team, Action.ADMINISTER, doing=_("Inviting people"))
    form = InviteForm(request.POST)
    issued = None
    if form.is_valid():
        try:
            issued = invites.create_invite(
                team=team,
                role=Role(form.cleaned_data["role"]),
                email=form.cleaned_data["email"],
                days=form.cleaned_data["days"],
                actor=Actor.of_request(request),
                base_url=public_base_url(request),
            )
        except DomainError as exc:
            error_to_form(form, exc)
    if issued is None:
        return render(
            request, "accounts/team.html", _context(request, team, invite_form=form), status=400
        )
    link = public_base_url(request).rstrip("/") + invites.invite_path(issued.token)
    context = _context(request, team, issued=issued.invite, invite_link=link)
    response = render(request, "accounts/team.html", context, status=201)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def invite_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    team = _team_of(request, slug)
    require_role(request.user, team, Action.ADMINISTER, doing=_("Revoking an invite"))
    invite = TeamInvite.objects.filter(pk=pk, team=team).first()
    if invite is None:
        raise Http404("No such invite")
    try:
        invites.revoke_invite(invite=invite, actor=Actor.of_request(request))
    except DomainError as exc:
        return refuse(request, exc.message, exc.status, reverse("team-page", args=[slug]))
    if request.htmx:
        response = render(request, "accounts/team.html#invites", _context(request, team))
        return trigger_client_event(response, "teamChanged", {"invite_revoked": invite.pk})
    messages.success(request, _("Invite revoked."))
    return see_other(reverse("team-page", args=[slug]))


def _invite_page(request, token: str, *, invite=None, form=None, status=200, error=""):
    response = render(
        request,
        "accounts/invite.html",
        {
            "token": token,
            "invite": invite,
            "form": form,
            "error": error,
            "local_accounts": settings.LOCAL_ACCOUNTS_ENABLED,
            "already_member": bool(
                invite
                and request.user.is_authenticated
                and Membership.objects.filter(user=request.user, team=invite.team).exists()
            ),
        },
        status=status,
    )
    # The token is in the URL: never send it to another site in a Referer (same-origin: the form posts still carry
    # their Origin for the CSRF check), never cache the page.
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def accept_invite(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the team and role; POST accepts (signed in) or registers then accepts."""
    invite = invites.find_invite(token)
    if invite is None or invite.state() != "pending":
        return _invite_page(request, token, status=404, error=invites._refusal(invite))
    if request.method == "GET":
        form = (
            None if request.user.is_authenticated else RegisterForm(initial={"email": invite.email})
        )
        return _invite_page(request, token, invite=invite, form=form)
    if request.user.is_authenticated:
        try:
            invites.accept_invite(token=token, user=request.user, actor=Actor.of_request(request))
        except DomainError as exc:
            return _invite_page(request, token, invite=invite, status=exc.status, error=exc.message)
        request.user.__dict__.pop("_vigil_roles", None)
        request.session["team_id"] = invite.team_id
        messages.success(
            request,
            _("Welcome to %(team)s: you joined as %(role)s.")
            % {"team": invite.team.name, "role": Role(invite.role).label},
        )
        return see_other(reverse("team-page", args=[invite.team.slug]))
    form = RegisterForm(request.POST)
    if not settings.LOCAL_ACCOUNTS_ENABLED:
        return _invite_page(
            request, token, invite=invite, status=403,
            error=_("Local accounts are turned off here: log in with single sign-on, then open this link again."),
        )  # fmt: skip
    if form.is_valid():
        data = form.cleaned_data
        try:
            user = invites.register_through_invite(
                token=token, username=data["username"], password=data["password1"],
                email=data["email"], display_name=data["display_name"], ip=client_ip(request),
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session["team_id"] = invite.team_id
            messages.success(
                request,
                _("Welcome to %(team)s: your account is ready and you joined as %(role)s.")
                % {"team": invite.team.name, "role": Role(invite.role).label},
            )
            return see_other(reverse("team-page", args=[invite.team.slug]))
    return _invite_page(request, token, invite=invite, form=form, status=400)
