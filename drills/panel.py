"""The incident room's DRILL banner: a drill incident says so at the top of the side column."""

from __future__ import annotations

from drills.models import Drill


def drill_panel_context(incident, user) -> dict | None:
    if not incident.is_drill:
        return None
    return {"drill": Drill.objects.filter(incident_id=incident.pk).first()}
