from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can
from incidents.access import get_incident_for_user
from incidents.forms import AssignForm, NoteForm, ResolveForm, SeverityForm
from incidents.models import Incident, Severity, TimelineEntry
from incidents.panels import panels_for
from incidents.views.common import wants_fragment
from incidents.views.relations import candidates_context, relations_context

log = logging.getLogger(__name__)

TIMELINE_LIMIT = 100


def room_version(incident: Incident, latest_entry_id: int | None) -> str:
    """Changes bump updated_at; entries other apps append with services.record() may not, so
    the newest entry's id is part of the version too."""
    return f"{int(incident.updated_at.timestamp() * 1_000_000)}.{latest_entry_id or 0}"


def current_room_version(incident: Incident) -> str:
    latest = TimelineEntry.objects.filter(incident=incident).aggregate(latest=Max("id"))["latest"]
    return room_version(incident, latest)


def _timeline(incident: Incident) -> list[TimelineEntry]:
    return list(
        TimelineEntry.objects.filter(incident=incident)
        .select_related("actor_user")
        .order_by("-at", "-id")[: TIMELINE_LIMIT + 1]
    )


def live_context(request: HttpRequest, incident: Incident, version: str | None = None) -> dict:
    """What the live part of the room (header, clocks, quick actions, timeline) needs."""
    version = version or current_room_version(incident)
    entries = _timeline(incident)
    return {
        "incident": incident,
        "timeline": entries[:TIMELINE_LIMIT],
        "timeline_truncated": len(entries) > TIMELINE_LIMIT,
        "version": version,
        "can_respond": can(request.user, incident.team_id, Action.RESPOND),
        "now": timezone.now(),
        **relations_context(incident),
    }


def forms_context(incident: Incident) -> dict:
    return {
        "resolve_form": ResolveForm(),
        "note_form": NoteForm(),
        "severity_form": SeverityForm(initial={"severity": incident.severity}),
        "assign_form": AssignForm(
            team_id=incident.team_id, initial={"assignee": incident.assignee_id}
        ),
        "severities": list(reversed(Severity)),
        **candidates_context(incident),
    }


def _rendered_panels(request: HttpRequest, incident: Incident) -> list[dict]:
    """Panels other apps registered (alerts, runbooks, post-mortem). A failing panel shows as
    unavailable instead of taking the whole room down in the middle of an incident."""
    shown = []
    for panel, context in panels_for(incident, request.user):
        try:
            html = render_to_string(
                panel.template,
                {**context, "incident": incident, "request": request},
                request=request,
            )
        except Exception:
            log.exception("incident panel %s failed for %s", panel.key, incident.reference)
            html = None
        shown.append(
            {
                "key": panel.key,
                "title": panel.title,
                "html": mark_safe(html or ""),  # noqa: S308  (rendered by an autoescaping template)
                "failed": html is None,
                # Some panel templates carry their own heading; do not show the title twice.
                "own_heading": html is not None and "<h2" in html,
            }
        )
    return shown


def changed_room_fragments(request: HttpRequest, incident: Incident, context: dict) -> str:
    """Header and timeline, plus the panels out of band (other apps may have changed them)."""
    panels = {"panels": _rendered_panels(request, incident), "oob": True}
    return render_to_string(
        "incidents/room.html#live", context, request=request
    ) + render_to_string("incidents/room.html#panels", panels, request=request)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def incident_room(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident room. htmx polls it with the version it shows: 204 when nothing changed,
    else the live fragment (header and timeline)."""
    incident = get_incident_for_user(request.user, pk)
    version = current_room_version(incident)
    if wants_fragment(request) and request.GET.get("v") == version:
        return HttpResponse(status=204)
    context = live_context(request, incident, version)
    if wants_fragment(request):
        return HttpResponse(changed_room_fragments(request, incident, context))
    context.update(forms_context(incident))
    context["panels"] = _rendered_panels(request, incident)
    context["nav"] = "incidents"
    return render(request, "incidents/room.html", context)
