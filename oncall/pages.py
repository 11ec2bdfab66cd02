"""On-call set-up pages: escalation policies (with levels and severity rules in one form, and a
preview of who would be paged), the policy of a service, rotations with their calendar,
overrides and swaps, team channels with a test message, and a person's own contact methods.

Reading needs membership; writing needs the manager role in the team (403), except contact
methods, which every signed-in person manages for themself. Another team's object is a 404.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Membership, Team
from accounts.permissions import Action, can, team_ids_of
from accounts.profile import update_profile
from config.errors import DomainError, InvalidInput
from config.pages import require_role
from config.stale import version_of
from incidents.access import get_service_for_user
from incidents.actors import Actor
from incidents.templatetags.setup_pages import viewer_zone
from incidents.views.common import see_other
from oncall import configure
from oncall.delivery import _destinations_of, recipients_of
from oncall.forms import (
    ChannelForm,
    ContactMethodForm,
    OverrideForm,
    PolicyForm,
    PreviewForm,
    ProfileForm,
    RotationForm,
    SwapForm,
    new_policy_initial,
    policy_initial,
)
from oncall.models import (
    LEVEL_NAMES,
    Channel,
    ContactMethod,
    EscalationPolicy,
    Override,
    Rotation,
    ServiceEscalation,
)
from oncall.policies import first_level_from, policy_for_service, rule_for, snapshot_policy
from oncall.rotations import shifts_between

CALENDAR_DAYS = 28


def _to_form(form, exc: DomainError) -> None:
    field, sep, problem = exc.message.partition(": ")
    if sep and field in form.fields:
        form.add_error(field, problem)
    else:
        form.add_error(None, exc.message)


def _team_for_new(request: HttpRequest) -> Team:
    """The team a new object goes to: ?team= (or the POSTed team), else the switcher's team."""
    wanted = request.POST.get("team") or request.GET.get("team") or request.session.get("team_id")
    ids = team_ids_of(request.user)
    try:
        team_id = int(wanted) if wanted else (ids[0] if ids else None)
    except (TypeError, ValueError):
        raise InvalidInput(_("team: not a team id")) from None
    if team_id not in ids:
        if not ids:
            raise Http404("No team")
        team_id = ids[0]
    return Team.objects.get(pk=team_id)


def _members(team_id: int) -> list[tuple[int, str]]:
    users = get_user_model().objects.filter(memberships__team_id=team_id).order_by("username")
    return [(u.pk, str(u)) for u in users]


def _get(model, request, pk, *, team_field="team_id"):
    obj = model.objects.filter(pk=pk, **{f"{team_field}__in": team_ids_of(request.user)}).first()
    if obj is None:
        raise Http404("Not found")
    return obj


# --- policies -----------------------------------------------------------------------------


def _policy_form(request, team: Team, data=None, initial=None) -> PolicyForm:
    visible = team_ids_of(request.user)
    return PolicyForm(
        data,
        initial=initial,
        members=_members(team.pk),
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
    team = _team_for_new(request)
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
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]))
    return _policy_page(request, form, team=team, policy=None, status=400)


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
        people = [(user, [t for _k, t, _m in _destinations_of(user)]) for user in users]
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
    policy = _get(EscalationPolicy, request, pk)
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
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]))
    return _policy_page(request, form, team=team, policy=policy, status=400)


@login_required
@require_POST
def policy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = _get(EscalationPolicy, request, pk)
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
    team = _team_for_new(request) if team_ids_of(request.user) else None
    context = {"nav": "oncall", "team": team}
    if team is not None:
        context.update(
            policies=list(EscalationPolicy.objects.filter(team=team).prefetch_related("levels")),
            rotations=list(Rotation.objects.filter(team=team)),
            channels=list(Channel.objects.filter(team=team)),
            can_configure=can(request.user, team, Action.CONFIGURE),
        )
    return render(request, "oncall/setup.html", context)


# --- rotations ----------------------------------------------------------------------------


def _rotation_form(team: Team, data=None, initial=None, current: int = 0) -> RotationForm:
    members = _members(team.pk)
    return RotationForm(data, initial=initial, members=members, slots=max(len(members), current, 1))


def _rotation_context(request, rotation: Rotation, now) -> dict:
    zone = viewer_zone(request.user)
    members = _members(rotation.team_id)
    shifts = shifts_between(rotation, now, now + timedelta(days=CALENDAR_DAYS))
    return {
        "shifts": [
            (shift, shift.start.astimezone(zone), shift.end.astimezone(zone)) for shift in shifts
        ],
        "zone": zone,
        "members": members,
        "override_form": OverrideForm(members=members),
        "overrides": list(
            Override.objects.filter(rotation=rotation, end__gt=now)
            .select_related("user")
            .order_by("start")
        ),
    }


def _rotation_page(request, form, *, team, rotation, status=200):
    now = timezone.now()
    context = {
        "nav": "oncall",
        "form": form,
        "team": team,
        "rotation": rotation,
        "can_configure": can(request.user, team, Action.CONFIGURE),
    }
    if rotation is not None:
        context.update(_rotation_context(request, rotation, now))
    return render(request, "oncall/rotation.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def rotation_new(request: HttpRequest) -> HttpResponse:
    team = _team_for_new(request)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Adding a rotation"))
    if request.method == "GET":
        form = _rotation_form(team, initial={"start_date": timezone.localdate()})
        return _rotation_page(request, form, team=team, rotation=None)
    form = _rotation_form(team, request.POST)
    if form.is_valid():
        try:
            rotation = configure.create_rotation(
                team=team, actor=Actor.of_request(request), values=form.values(),
                member_ids=form.cleaned_data["member_ids"],
            )  # fmt: skip
        except DomainError as exc:
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:rotation", args=[rotation.pk]))
    return _rotation_page(request, form, team=team, rotation=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def rotation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = _get(Rotation, request, pk)
    team = rotation.team
    current = list(rotation.members.values_list("user_id", flat=True))
    if request.method == "GET":
        initial = {k: getattr(rotation, k) for k in configure.ROTATION_FIELDS}
        initial.update({f"member_{i}": pk for i, pk in enumerate(current)})
        initial["version"] = configure.rotation_version(rotation)
        form = _rotation_form(team, initial=initial, current=len(current))
        return _rotation_page(request, form, team=team, rotation=rotation)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Editing a rotation"))
    form = _rotation_form(team, request.POST, current=len(current))
    if form.is_valid():
        try:
            configure.update_rotation(
                rotation=rotation, actor=Actor.of_request(request), values=form.values(),
                member_ids=form.cleaned_data["member_ids"], version=form.cleaned_data["version"],
            )  # fmt: skip
        except DomainError as exc:
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:rotation", args=[rotation.pk]))
    return _rotation_page(request, form, team=team, rotation=rotation, status=400)


def _user_in_team(team_id: int, user_id: int):
    user = get_user_model().objects.filter(pk=user_id, memberships__team_id=team_id).first()
    if user is None:
        raise InvalidInput(_("user: not a member of this team"))
    return user


@login_required
@require_POST
def override_add(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = _get(Rotation, request, pk)
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Adding an override"))
    zone = viewer_zone(request.user)
    form = OverrideForm(request.POST, members=_members(rotation.team_id))
    if not form.is_valid():
        return _rotation_with_override_errors(request, rotation, form)
    data = form.cleaned_data
    start = data["start"].replace(tzinfo=None).replace(tzinfo=zone)
    end = data["end"].replace(tzinfo=None).replace(tzinfo=zone)
    configure.add_override(
        rotation=rotation, user=_user_in_team(rotation.team_id, data["user"]), start=start,
        end=end, actor=Actor.of_request(request),
    )  # fmt: skip
    return see_other(reverse("oncall:rotation", args=[rotation.pk]) + "#calendar")


def _rotation_with_override_errors(request, rotation, override_form):
    """The rotation page again, with the override form as typed and its errors."""
    current = list(rotation.members.values_list("user_id", flat=True))
    initial = {k: getattr(rotation, k) for k in configure.ROTATION_FIELDS}
    initial.update({f"member_{i}": pk for i, pk in enumerate(current)})
    initial["version"] = configure.rotation_version(rotation)
    context = {
        "nav": "oncall",
        "form": _rotation_form(rotation.team, initial=initial, current=len(current)),
        "team": rotation.team,
        "rotation": rotation,
        "can_configure": True,
        **_rotation_context(request, rotation, timezone.now()),
        "override_form": override_form,
    }
    return render(request, "oncall/rotation.html", context, status=400)


@login_required
@require_POST
def shift_swap(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand one shift to a colleague: an override for exactly that shift (two clicks)."""
    rotation = _get(Rotation, request, pk)
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Swapping a shift"))
    form = SwapForm(request.POST, members=_members(rotation.team_id))
    if not form.is_valid():
        raise InvalidInput(_("Choose who takes the shift."))
    data = form.cleaned_data
    configure.add_override(
        rotation=rotation, user=_user_in_team(rotation.team_id, data["user"]),
        start=data["start"], end=data["end"], actor=Actor.of_request(request),
    )  # fmt: skip
    return see_other(reverse("oncall:rotation", args=[rotation.pk]) + "#calendar")


@login_required
@require_POST
def override_remove(request: HttpRequest, pk: int, override_pk: int) -> HttpResponse:
    rotation = _get(Rotation, request, pk)
    override = Override.objects.filter(pk=override_pk, rotation=rotation).first()
    if override is None:
        raise Http404("No such override")
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Removing an override"))
    configure.remove_override(override=override, actor=Actor.of_request(request))
    return see_other(reverse("oncall:rotation", args=[rotation.pk]) + "#calendar")


# --- channels -----------------------------------------------------------------------------


def _channel_page(request, form, *, team, channel, status=200, result=None):
    return render(
        request,
        "oncall/channel.html",
        {
            "nav": "oncall",
            "form": form,
            "team": team,
            "channel": channel,
            "result": result,
            "can_configure": can(request.user, team, Action.CONFIGURE),
        },
        status=status,
    )


def _channel_values(form) -> dict:
    return {k: form.cleaned_data[k] for k in configure.CHANNEL_FIELDS}


@login_required
@require_http_methods(["GET", "POST"])
def channel_new(request: HttpRequest) -> HttpResponse:
    team = _team_for_new(request)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Adding a channel"))
    if request.method == "GET":
        return _channel_page(request, ChannelForm(), team=team, channel=None)
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            channel = configure.save_channel(
                team=team, actor=Actor.of_request(request), values=_channel_values(form)
            )
        except DomainError as exc:
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:channel", args=[channel.pk]))
    return _channel_page(request, form, team=team, channel=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _get(Channel, request, pk)
    team = channel.team
    if request.method == "GET":
        initial = {k: getattr(channel, k) for k in configure.CHANNEL_FIELDS}
        initial["version"] = version_of(channel, configure.CHANNEL_FIELDS)
        return _channel_page(request, ChannelForm(initial=initial), team=team, channel=channel)
    require_role(request.user, team, Action.CONFIGURE, doing=_("Editing a channel"))
    form = ChannelForm(request.POST)
    if form.is_valid():
        try:
            configure.save_channel(
                team=team, actor=Actor.of_request(request), values=_channel_values(form),
                channel=channel, version=form.cleaned_data["version"],
            )  # fmt: skip
        except DomainError as exc:
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:channel", args=[channel.pk]))
    return _channel_page(request, form, team=team, channel=channel, status=400)


@login_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = _get(Channel, request, pk)
    require_role(request.user, channel.team, Action.CONFIGURE, doing=_("Testing a channel"))
    result = configure.send_channel_test(channel=channel, actor=Actor.of_request(request))
    if request.htmx:
        return render(request, "oncall/_send_result.html", {"result": result})
    initial = {k: getattr(channel, k) for k in configure.CHANNEL_FIELDS}
    initial["version"] = version_of(channel, configure.CHANNEL_FIELDS)
    return _channel_page(
        request, ChannelForm(initial=initial), team=channel.team, channel=channel, result=result
    )


# --- my contact methods -------------------------------------------------------------------


def _my_method(request, pk: int) -> ContactMethod:
    method = ContactMethod.objects.filter(pk=pk, user=request.user).first()
    if method is None:
        raise Http404("No such contact method")
    return method


def _contact_page(request, form, *, status=200, result=None, tested=None):
    return render(
        request,
        "oncall/contact_methods.html",
        {
            "nav": "oncall",
            "form": form,
            "methods": list(ContactMethod.objects.filter(user=request.user)),
            "result": result,
            "tested": tested,
            "teams": Membership.objects.filter(user=request.user).select_related("team"),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_methods(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _contact_page(request, ContactMethodForm())
    form = ContactMethodForm(request.POST)
    if form.is_valid():
        try:
            configure.add_contact_method(
                user=request.user, kind=form.cleaned_data["kind"],
                target=form.cleaned_data["target"], secret=form.cleaned_data["secret"],
                actor=Actor.of_request(request),
            )  # fmt: skip
        except DomainError as exc:
            _to_form(form, exc)
        else:
            return see_other(reverse("oncall:contact-methods"))
    return _contact_page(request, form, status=400)


@login_required
@require_POST
def contact_method_remove(request: HttpRequest, pk: int) -> HttpResponse:
    configure.remove_contact_method(method=_my_method(request, pk), actor=Actor.of_request(request))
    return see_other(reverse("oncall:contact-methods"))


@login_required
@require_POST
def contact_method_move(request: HttpRequest, pk: int, direction: str) -> HttpResponse:
    configure.move_contact_method(
        method=_my_method(request, pk), direction=direction, actor=Actor.of_request(request)
    )
    return see_other(reverse("oncall:contact-methods"))


@login_required
@require_POST
def contact_method_verify(request: HttpRequest, pk: int) -> HttpResponse:
    method = _my_method(request, pk)
    result = configure.verify_contact_method(method=method, actor=Actor.of_request(request))
    if request.htmx:
        return render(request, "oncall/_send_result.html", {"result": result})
    return _contact_page(request, ContactMethodForm(), result=result, tested=method.pk)


# --- my profile ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def my_profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={"display_name": user.display_name, "time_zone": user.time_zone},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                update_profile(
                    user=user,
                    actor=Actor.of_request(request),
                    display_name=form.cleaned_data["display_name"],
                    time_zone=form.cleaned_data["time_zone"],
                )
            except DomainError as exc:
                field, sep, problem = exc.message.partition(": ")
                form.add_error(field if sep and field in form.fields else None, problem)
            else:
                return see_other(reverse("oncall:profile"))
        status = 400
    now = timezone.now()
    shifts = []
    for rotation in Rotation.objects.filter(members__user=user).distinct():
        for shift in shifts_between(rotation, now, now + timedelta(days=28)):
            if shift.user.pk == user.pk:
                shifts.append((rotation, shift))
    shifts.sort(key=lambda item: item[1].start)
    return render(
        request,
        "oncall/profile.html",
        {"form": form, "shifts": shifts[:20], "contact_count": user.contact_methods.count()},
        status=status,
    )
