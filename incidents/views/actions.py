"""The incident room's writes. Each calls one function of incidents.services.

Refusals: 403 without the responder role, 400 for bad input, 409 when the incident's state
does not allow it (the service's message is shown as it is)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from accounts.permissions import Action, can
from config.errors import InvalidInput
from incidents import services
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.errors import IncidentError
from incidents.forms import (
    AssignForm,
    MitigateForm,
    NoteForm,
    ReopenForm,
    ResolveForm,
    SeverityForm,
    form_problems,
)
from incidents.models import Incident
from incidents.views import relations
from incidents.views.common import refuse, see_other
from incidents.views.room import changed_room_fragments, forms_context, live_context


class BadInput(InvalidInput):
    """A form of the room did not validate (400); the message names the problems."""


def _valid(form):
    if not form.is_valid():
        raise BadInput(form_problems(form))
    return form.cleaned_data


def _acknowledge(request, incident, actor):
    return services.acknowledge(incident=incident, actor=actor)


def _mitigate(request, incident, actor):
    note = _valid(MitigateForm(request.POST))["note"]
    return services.mitigate(incident=incident, actor=actor, note=note)


def _resolve(request, incident, actor):
    note = _valid(ResolveForm(request.POST))["note"]
    return services.resolve(incident=incident, actor=actor, note=note)


def _reopen(request, incident, actor):
    reason = _valid(ReopenForm(request.POST))["reason"]
    return services.reopen(incident=incident, actor=actor, reason=reason)


def _severity(request, incident, actor):
    data = _valid(SeverityForm(request.POST))
    return services.change_severity(
        incident=incident, severity=data["severity"], actor=actor, reason=data["reason"]
    )


def _assign(request, incident, actor):
    post = request.POST.copy()
    if post.get("assignee") == "me":
        post["assignee"] = str(request.user.pk)
    data = _valid(AssignForm(post, team_id=incident.team_id))
    return services.assign(incident=incident, assignee=data["assignee"], actor=actor)


def _note(request, incident, actor):
    text = _valid(NoteForm(request.POST))["text"]
    services.add_note(incident=incident, actor=actor, text=text)
    return incident


def _escalate(request, incident, actor):
    return services.request_escalation(incident=incident, actor=actor)


ACTIONS: dict[str, Callable[[HttpRequest, Incident, Actor], Incident]] = {
    "acknowledge": _acknowledge,
    "mitigate": _mitigate,
    "resolve": _resolve,
    "reopen": _reopen,
    "severity": _severity,
    "assign": _assign,
    "note": _note,
    "escalate": _escalate,
}
# Merge, link and snooze (incidents.views.relations) take the form validator as well.
ACTIONS.update(
    {name: partial(handler, valid=_valid) for name, handler in relations.HANDLERS.items()}
)


@login_required
@require_POST
def incident_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    perform = ACTIONS.get(action)
    if perform is None:
        raise Http404(f"unknown action {action!r}")
    incident = get_incident_for_user(request.user, pk)
    room_url = reverse("incident-room", args=[incident.pk])
    if not can(request.user, incident.team_id, Action.RESPOND):
        return refuse(
            request,
            f"You need the responder role in {incident.team} to change {incident.reference}.",
            403,
            room_url,
        )
    try:
        # The service writes the timeline entry and, for acknowledge/resolve/reopen, the audit row.
        perform(request, incident, Actor.of_request(request))
    except BadInput as exc:
        return refuse(request, f"Cannot {action} {incident.reference}: {exc}", 400, room_url)
    except IncidentError as exc:
        # Back to the room with the message: the status comes from the error's class.
        return refuse(request, str(exc), exc.status, room_url)

    incident = get_incident_for_user(request.user, pk)
    if not request.htmx:
        return see_other(room_url)
    if request.POST.get("from") == "board":
        # The board refreshes itself when it hears incidentChanged.
        response = HttpResponse("")
    else:
        context = live_context(request, incident)
        context.update(forms_context(incident))
        context["oob"] = True
        response = HttpResponse(
            changed_room_fragments(request, incident, context)
            + render_to_string("incidents/room.html#forms", context, request=request)
            + render_to_string("incidents/_flash.html", {"oob": True}, request=request)
        )
    return trigger_client_event(
        response,
        "incidentChanged",
        {"id": incident.pk, "action": action, "status": incident.status},
    )
