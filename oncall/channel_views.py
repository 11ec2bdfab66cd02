"""The "send test" buttons of team channels and personal contact methods.

One URL answers both a plain form post (message on the page it came from) and htmx (the
result fragment in place). Testing a team channel needs the manager role in its team; a
contact method can be tested only by its owner (anyone else gets 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import Action, can, team_ids_of
from config.web import see_other
from incidents.actors import Actor
from oncall.models import Channel, ContactMethod
from oncall.send_test import send_test_message


def _answer(request: HttpRequest, result, name: str) -> HttpResponse:
    if result.ok:
        text = _("Test message to %(name)s delivered.") % {"name": name}
    else:
        text = _("Test message to %(name)s failed: %(error)s") % {
            "name": name,
            "error": result.error,
        }
    if request.htmx:
        return render(request, "oncall/_test_result.html", {"ok": result.ok, "text": text})
    (messages.success if result.ok else messages.error)(request, text)
    back = request.POST.get("next") or request.headers.get("Referer") or "/oncall/"
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/oncall/"
    return see_other(back)


@login_required
@require_POST
def test_channel(request: HttpRequest, pk: int) -> HttpResponse:
    channel = Channel.objects.filter(pk=pk, team_id__in=team_ids_of(request.user)).first()
    if channel is None:
        raise Http404("No such channel")
    if not can(request.user, channel.team_id, Action.CONFIGURE):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("Testing a team channel needs the manager role in its team."))
    result = send_test_message(actor=Actor.of_request(request), channel=channel)
    return _answer(request, result, channel.name)


@login_required
@require_POST
def test_contact_method(request: HttpRequest, pk: int) -> HttpResponse:
    method = ContactMethod.objects.filter(pk=pk, user=request.user).first()
    if method is None:
        raise Http404("No such contact method")
    result = send_test_message(actor=Actor.of_request(request), contact_method=method)
    return _answer(request, result, f"{method.get_kind_display()} {method.target}")
