"""Team channel pages, with a test message showing the delivery result."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Action, can
from config.errors import DomainError
from config.pages import error_to_form, require_role
from config.stale import version_of
from incidents.actors import Actor
from incidents.views.common import see_other
from oncall import configure
from oncall.forms import (
    ChannelForm,
)
from oncall.models import (
    Channel,
)
from oncall.pages.common import get_in_my_teams, team_for_new

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
    team = team_for_new(request)
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
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:channel", args=[channel.pk]))
    return _channel_page(request, form, team=team, channel=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_in_my_teams(Channel, request, pk)
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
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:channel", args=[channel.pk]))
    return _channel_page(request, form, team=team, channel=channel, status=400)


@login_required
@require_POST
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_in_my_teams(Channel, request, pk)
    require_role(request.user, channel.team, Action.CONFIGURE, doing=_("Testing a channel"))
    result = configure.send_channel_test(channel=channel, actor=Actor.of_request(request))
    if request.htmx or request.POST.get("next"):
        from oncall.channel_views import answer_test

        return answer_test(request, result, channel.name)
    initial = {k: getattr(channel, k) for k in configure.CHANNEL_FIELDS}
    initial["version"] = version_of(channel, configure.CHANNEL_FIELDS)
    return _channel_page(
        request, ChannelForm(initial=initial), team=channel.team, channel=channel, result=result
    )
