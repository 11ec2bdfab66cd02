"""The "Post-mortem" panel of the incident room: link and status, or a button to draft one."""

from __future__ import annotations

from accounts.permissions import Action, can
from postmortems.models import PostMortem


def postmortem_panel_context(incident, user) -> dict | None:
    if not can(user, incident.team_id, Action.VIEW):
        return None
    postmortem = PostMortem.objects.filter(incident=incident).first()
    return {
        "postmortem": postmortem,
        "can_create": postmortem is None and can(user, incident.team_id, Action.RESPOND),
        "required": incident.severity >= 3,
    }
