"""The triage UI: board, incident room, actions, declaring an incident, services overview."""

from incidents.views.actions import incident_action
from incidents.views.board import attention, board, board_bulk, home, services_overview
from incidents.views.declare import declare_incident
from incidents.views.room import incident_room

__all__ = [
    "attention",
    "board",
    "board_bulk",
    "declare_incident",
    "home",
    "incident_action",
    "incident_room",
    "services_overview",
]
