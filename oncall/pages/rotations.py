"""Rotation pages: members in order, a four-week calendar in the viewer's zone, overrides and
swapping a shift."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Team
from accounts.permissions import Action, can
from config.errors import DomainError, InvalidInput
from config.pages import error_to_form, require_role
from incidents.actors import Actor
from incidents.templatetags.setup_pages import viewer_zone
from incidents.views.common import see_other
from oncall import configure
from oncall.forms import (
    OverrideForm,
    RotationForm,
    SwapForm,
)
from oncall.models import (
    Override,
    Rotation,
)
from oncall.pages.common import get_in_my_teams, team_for_new, team_members
from oncall.rotations import shifts_between

CALENDAR_DAYS = 28


# --- rotations ----------------------------------------------------------------------------


def _rotation_form(team: Team, data=None, initial=None, current: int = 0) -> RotationForm:
    members = team_members(team.pk)
    return RotationForm(data, initial=initial, members=members, slots=max(len(members), current, 1))


def _rotation_context(request, rotation: Rotation, now) -> dict:
    zone = viewer_zone(request.user)
    members = team_members(rotation.team_id)
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
    team = team_for_new(request)
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
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:rotation", args=[rotation.pk]))
    return _rotation_page(request, form, team=team, rotation=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def rotation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rotation = get_in_my_teams(Rotation, request, pk)
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
            error_to_form(form, exc)
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
    rotation = get_in_my_teams(Rotation, request, pk)
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Adding an override"))
    zone = viewer_zone(request.user)
    form = OverrideForm(request.POST, members=team_members(rotation.team_id))
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
    rotation = get_in_my_teams(Rotation, request, pk)
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Swapping a shift"))
    form = SwapForm(request.POST, members=team_members(rotation.team_id))
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
    rotation = get_in_my_teams(Rotation, request, pk)
    override = Override.objects.filter(pk=override_pk, rotation=rotation).first()
    if override is None:
        raise Http404("No such override")
    require_role(request.user, rotation.team, Action.CONFIGURE, doing=_("Removing an override"))
    configure.remove_override(override=override, actor=Actor.of_request(request))
    return see_other(reverse("oncall:rotation", args=[rotation.pk]) + "#calendar")
