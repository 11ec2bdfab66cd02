"""Escalation policy pages: levels and severity rules in one form, the "who would be paged
now" preview, the policy of a service, and the set-up overview."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from config.errors import DomainError, InvalidInput
from config.pages import error_to_form, require_role
from config.stale import version_of
from incidents.access import get_service_for_user
from incidents.actors import Actor
from incidents.views.common import see_other
from oncall import configure
from oncall.delivery import destinations_for, recipients_of
from oncall.forms import (
    PolicyForm,
    PreviewForm,
    new_policy_initial,
    policy_initial,
)
from oncall.models import (
    LEVEL_NAMES,
    Channel,
    EscalationPolicy,
    Rotation,
    ServiceEscalation,
)
from oncall.pages.common import get_in_my_teams, team_for_new, team_members
from oncall.policies import first_level_from, policy_for_service, rule_for, snapshot_policy

# --- policies -----------------------------------------------------------------------------


def _policy_form(request, team: Team, data=None, initial=None) -> PolicyForm:
    visible = team_ids_of(request.user)
    return PolicyForm(
        data,
        initial=initial,
        members=team_members(team.pk),
        rotations=list(Rotation.objects.filter(team=team).values_list("pk", "name")),
        teams=list(Team.objects.filter(pk__in=visible).values_list("pk", "name")),
        channels=list(Channel.objects.filter(team=team).values_list("pk", "name")),
    )


def _policy_page(request, form, *, team, policy, status=200, preview=None):
    return render(
        request,
        "oncall/policy_form.html",
        {
            "nav": "oncall",
            "form": form,
            "team": team,
            "policy": policy,
            "preview": preview,
            "preview_form": PreviewForm(request.GET or None),
            "services": list(team.services.active().order_by("name").values_list("slug", "name")),
            "can_configure": can(request.user, team, Action.CONFIGURE),
            "actions": (
                [(level.number, level.actions.all()) for level in policy.levels.all()]
                if policy
                else []
            ),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_new(request: HttpRequest) -> HttpResponse:
    team = team_for_new(request)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Adding an escalation policy"))
    if request.method == "GET":
        form = _policy_form(request, team, initial=new_policy_initial())
        return _policy_page(request, form, team=team, policy=None)
    form = _policy_form(request, team, request.POST)
    if form.is_valid():
        try:
            policy = configure.create_policy(
                team=team, actor=Actor.of_request(request), values=form.policy_values(),
                levels=form.level_specs(), visible_team_ids=team_ids_of(request.user),
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]))
    return _policy_page(request, form, team=team, policy=None, status=400)


def _destination_text(destination) -> str:
    if destination.delay_minutes:
        return _("%(target)s after %(minutes)s min") % {
            "target": destination.target,
            "minutes": destination.delay_minutes,
        }
    return destination.target


def preview_pages(policy: EscalationPolicy, *, severity: int, service=None, now=None) -> dict:
    """Who would be paged now for a severity-N incident (on service X: with its policy)."""
    now = now or timezone.now()
    if service is not None:
        chosen = policy_for_service(service)
        if chosen is None:
            return {"policy": None, "levels": [], "note": _("No policy: nobody would be paged.")}
        policy = chosen
    snapshot = snapshot_policy(policy)
    rule = rule_for(snapshot, severity)
    start = first_level_from(snapshot, rule["start"], rule["stop"])
    levels = []
    targets = ([start] if start else []) + [
        n for n in rule.get("inform", []) if str(n) in snapshot["levels"] and n != start
    ]
    for number in targets:
        spec = snapshot["levels"][str(number)]
        users, notes = recipients_of(spec, now=now)
        people = [
            (user, [_destination_text(d) for d in destinations_for(user, severity)])
            for user in users
        ]
        channels = list(Channel.objects.filter(pk__in=spec.get("channel_ids", []), is_active=True))
        levels.append(
            {
                "number": number,
                "name": LEVEL_NAMES[number],
                "purpose": _("paged") if number == start else _("informed"),
                "people": people,
                "channels": channels,
                "actions": spec.get("actions", []),
                "notes": notes,
            }
        )
    note = "" if start else _("This severity starts at a level the policy does not have.")
    return {"policy": policy, "levels": levels, "rule": rule, "note": note}


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_in_my_teams(EscalationPolicy, request, pk)
    team = policy.team
    if request.method == "GET":
        preview = None
        preview_form = PreviewForm(request.GET)
        if "severity" in request.GET and preview_form.is_valid():
            service = None
            if preview_form.cleaned_data["service"]:
                service = get_service_for_user(request.user, preview_form.cleaned_data["service"])
            preview = preview_pages(
                policy, severity=preview_form.cleaned_data["severity"], service=service
            )
        initial = {**policy_initial(policy), "version": version_of(policy, configure.POLICY_FIELDS)}
        form = _policy_form(request, team, initial=initial)
        return _policy_page(request, form, team=team, policy=policy, preview=preview)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Editing an escalation policy"))
    form = _policy_form(request, team, request.POST)
    if form.is_valid():
        try:
            configure.update_policy(
                policy=policy, actor=Actor.of_request(request), values=form.policy_values(),
                levels=form.level_specs(), visible_team_ids=team_ids_of(request.user),
                version=form.cleaned_data["version"],
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]))
    return _policy_page(request, form, team=team, policy=policy, status=400)


@login_required
@require_POST
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_in_my_teams(EscalationPolicy, request, pk)
    require_role(request.user, policy.team, Action.CONFIGURE, doing=_("Deleting a policy"))
    configure.delete_policy(policy=policy, actor=Actor.of_request(request))
    return see_other(reverse("oncall:setup"))


@login_required
@require_POST
def service_policy(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Choosing a policy"))
    raw = request.POST.get("policy", "")
    policy = None
    if raw:
        try:
            policy = EscalationPolicy.objects.filter(pk=int(raw), team_id=service.team_id).first()
        except ValueError:
            policy = None
        if policy is None:
            raise InvalidInput(_("policy: not a policy of this service's team"))
    configure.set_service_policy(service=service, policy=policy, actor=Actor.of_request(request))
    return see_other(reverse("service-page", args=[service.slug]) + "#section-escalation")


def escalation_section(service, user) -> dict:
    link = ServiceEscalation.objects.select_related("policy").filter(service=service).first()
    default = EscalationPolicy.objects.filter(team_id=service.team_id, is_team_default=True).first()
    return {
        "own_policy": link.policy if link else None,
        "default_policy": default,
        "policies": list(EscalationPolicy.objects.filter(team_id=service.team_id).order_by("name")),
    }


# --- set-up overview ----------------------------------------------------------------------


@login_required
@require_GET
def setup_overview(request: HttpRequest) -> HttpResponse:
    team = team_for_new(request) if team_ids_of(request.user) else None
    context = {"nav": "oncall", "team": team}
    if team is not None:
        context.update(
            policies=list(EscalationPolicy.objects.filter(team=team).prefetch_related("levels")),
            rotations=list(Rotation.objects.filter(team=team)),
            channels=list(Channel.objects.filter(team=team)),
            can_configure=can(request.user, team, Action.CONFIGURE),
        )
    return render(request, "oncall/setup.html", context)
