"""The escalation panel in the incident room: level, next step, and every delivery's fate."""

from __future__ import annotations

from oncall.models import LEVEL_NAMES, EscalationState, Notification


def escalation_panel_context(incident, user) -> dict | None:
    state = EscalationState.objects.filter(incident=incident).first()
    if state is None:
        return None
    notifications = list(
        Notification.objects.filter(incident=incident).select_related("recipient")[:30]
    )
    return {
        "state": state,
        "level_name": LEVEL_NAMES.get(state.current_level, "not started"),
        "notifications": notifications,
    }
