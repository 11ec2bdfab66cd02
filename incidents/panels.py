"""Panels other apps add to the incident room, without the core importing them.

An app registers a panel in its AppConfig.ready():

    register_panel(IncidentPanel(key="runbooks", title="Runbooks", order=20,
                                 template="runbooks/_incident_panel.html",
                                 get_context=runbook_panel_context))

The incident room renders each panel's template with the context its function returns (plus
``incident`` and ``request``); a function returning None hides the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IncidentPanel:
    key: str
    title: str
    template: str
    get_context: Callable[..., dict | None]  # (incident, user) -> dict | None
    order: int = 50


_panels: dict[str, IncidentPanel] = {}


def register_panel(panel: IncidentPanel) -> None:
    _panels[panel.key] = panel


def panels_for(incident, user) -> list[tuple[IncidentPanel, dict]]:
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        context = panel.get_context(incident, user)
        if context is not None:
            shown.append((panel, context))
    return shown
