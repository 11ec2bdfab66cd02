"""Automated actions on the policy page: add one to a level, edit, delete, and try it once with
a test incident (the answer is shown inline). Reading needs membership; every write and the
test need the manager role (403). Another team's action is a 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Action, can, team_ids_of
from config.errors import DomainError
from config.pages import error_to_form, require_role
from config.stale import version_of
from incidents.actors import Actor
from incidents.views.common import see_other
from oncall import configure
from oncall.configure.actions import body_text
from oncall.forms import AutomatedActionForm
from oncall.models import AutomatedAction, EscalationPolicy
from oncall.pages.common import get_in_my_teams


def _levels(policy: EscalationPolicy) -> list[int]:
    return list(policy.levels.order_by("number").values_list("number", flat=True))


def _get_action(request, pk: int) -> AutomatedAction:
    action = (
        AutomatedAction.objects.select_related("level__policy__team")
        .filter(pk=pk, level__policy__team_id__in=team_ids_of(request.user))
        .first()
    )
    if action is None:
        raise Http404("No such automated action")
    return action


def _page(request, form, *, policy, action=None, status=200, result=None, sent=None):
    return render(
        request,
        "oncall/action_form.html",
        {
            "nav": "oncall",
            "form": form,
            "policy": policy,
            "team": policy.team,
            "action": action,
            "can_configure": can(request.user, policy.team, Action.CONFIGURE),
            "result": result,
            "sent": sent,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def action_new(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_in_my_teams(EscalationPolicy, request, pk)
    require_role(request.user, policy.team, Action.CONFIGURE, doing=_("Adding an automated action"))
    levels = _levels(policy)
    if request.method == "GET":
        initial = {"level": request.GET.get("level") or (levels[0] if levels else None)}
        return _page(request, AutomatedActionForm(levels=levels, initial=initial), policy=policy)
    form = AutomatedActionForm(request.POST, levels=levels)
    if form.is_valid():
        try:
            configure.create_action(
                policy=policy, level_number=form.cleaned_data["level"], values=form.values(),
                actor=Actor.of_request(request),
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]) + "#actions")
    return _page(request, form, policy=policy, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def action_edit(request: HttpRequest, pk: int) -> HttpResponse:
    action = _get_action(request, pk)
    policy = action.level.policy
    levels = _levels(policy)
    if request.method == "GET":
        initial = {
            "level": action.level.number,
            "name": action.name,
            "url": action.url,
            "body_template": body_text(action),
            "version": version_of(action, configure.ACTION_FIELDS),
        }
        form = AutomatedActionForm(levels=levels, initial=initial)
        return _page(request, form, policy=policy, action=action)
    require_role(
        request.user, policy.team, Action.CONFIGURE, doing=_("Editing an automated action")
    )
    form = AutomatedActionForm(request.POST, levels=levels)
    if form.is_valid():
        try:
            configure.update_action(
                action=action, level_number=form.cleaned_data["level"], values=form.values(),
                actor=Actor.of_request(request), version=form.cleaned_data["version"],
                clear_secret=form.cleaned_data["clear_secret"],
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:policy", args=[policy.pk]) + "#actions")
    return _page(request, form, policy=policy, action=action, status=400)


@login_required
@require_POST
def action_delete(request: HttpRequest, pk: int) -> HttpResponse:
    action = _get_action(request, pk)
    policy = action.level.policy
    require_role(
        request.user, policy.team, Action.CONFIGURE, doing=_("Deleting an automated action")
    )
    configure.delete_action(action=action, actor=Actor.of_request(request))
    return see_other(reverse("oncall:policy", args=[policy.pk]) + "#actions")


@login_required
@require_POST
def action_test(request: HttpRequest, pk: int) -> HttpResponse:
    action = _get_action(request, pk)
    policy = action.level.policy
    require_role(
        request.user, policy.team, Action.CONFIGURE, doing=_("Testing an automated action")
    )
    delivery, body = configure.try_action(action=action, actor=Actor.of_request(request))
    result = {"ok": delivery.ok, "status_code": delivery.status, "error": delivery.error}
    if request.htmx:
        return render(request, "oncall/_send_result.html", {"result": result, "name": action.name})
    levels = _levels(policy)
    initial = {"level": action.level.number, "name": action.name, "url": action.url,
               "body_template": body_text(action),
               "version": version_of(action, configure.ACTION_FIELDS)}  # fmt: skip
    form = AutomatedActionForm(levels=levels, initial=initial)
    return _page(request, form, policy=policy, action=action, result=result, sent=body)
