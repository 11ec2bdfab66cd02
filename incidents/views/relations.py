"""The incident room's merge, link and snooze actions, and what the room shows of them.

The handlers are registered in ``incidents.views.actions.ACTIONS``: the room's one action URL
checks the role, calls the handler and answers with the changed fragments."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.permissions import Action, can
from config.errors import Forbidden
from incidents import links, merging, snooze
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.forms_room import OtherIncidentForm, SnoozeForm
from incidents.models import OPEN_STATUSES, Incident

CANDIDATES_SHOWN = 50


def _other(request: HttpRequest, form_data: dict) -> Incident:
    # Another team's incident is a 404, exactly as opening its room would be.
    return get_incident_for_user(request.user, form_data["other"])


def merge(request, incident, actor: Actor, *, valid) -> Incident:
    other = _other(request, valid(OtherIncidentForm(request.POST)))
    if not can(request.user, other.team_id, Action.RESPOND):
        raise Forbidden(f"You need the responder role in {other.team} to merge {other.reference}.")
    merging.merge_incidents(target=incident, source=other, actor=actor)
    return incident


def link(request, incident, actor: Actor, *, valid) -> Incident:
    other = _other(request, valid(OtherIncidentForm(request.POST)))
    links.link_incidents(incident=incident, other=other, actor=actor)
    return incident


def unlink(request, incident, actor: Actor, *, valid) -> Incident:
    other = _other(request, valid(OtherIncidentForm(request.POST)))
    links.unlink_incidents(incident=incident, other=other, actor=actor)
    return incident


def snooze_action(request, incident, actor: Actor, *, valid) -> Incident:
    minutes = valid(SnoozeForm(request.POST))["minutes"]
    snooze.snooze_incident(incident=incident, minutes=minutes, actor=actor)
    return incident


def unsnooze(request, incident, actor: Actor, *, valid) -> Incident:
    return snooze.cancel_snooze(incident=incident, actor=actor)


HANDLERS = {
    "merge": merge,
    "link": link,
    "unlink": unlink,
    "snooze": snooze_action,
    "unsnooze": unsnooze,
}


def relations_context(incident: Incident) -> dict:
    """What the live part of the room shows: links, the running snooze, the merge (2 queries)."""
    extras = (
        Incident.objects.filter(pk=incident.pk)
        .select_related("snooze", "merged_into__target")
        .only("pk", "snooze", "merged_into__target__title", "merged_into__merged_at")
        .first()
    )
    running = getattr(extras, "snooze", None) if extras else None
    return {
        "linked": links.linked_incidents(incident),
        "snooze": running if running and snooze.applies(running, incident) else None,
        "merged_into": getattr(extras, "merged_into", None) if extras else None,
        "snooze_choices": snooze.CHOICES,
    }


def candidates_context(incident: Incident) -> dict:
    """Incidents of the same team the room offers to merge or link (newest first)."""
    recent = list(
        Incident.objects.filter(team_id=incident.team_id)
        .exclude(pk=incident.pk)
        .only("pk", "title", "status", "severity", "triggered_at", "is_drill")
        .order_by("-triggered_at", "-id")[:CANDIDATES_SHOWN]
    )
    return {
        "merge_candidates": [
            i for i in recent if i.status in OPEN_STATUSES and i.is_drill == incident.is_drill
        ],
        "link_candidates": recent,
    }
