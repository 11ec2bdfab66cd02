"""The incident-room panel listing the alerts behind an incident."""

from __future__ import annotations

from incidents.models import Alert
from incidents.panels import IncidentPanel, register_panel

MAX_SHOWN = 100


def alerts_panel_context(incident, user) -> dict | None:
    # The incident room has already checked that the user may see this incident.
    alerts = list(
        Alert.objects.filter(incident=incident)
        .select_related("integration")
        .order_by("status", "-last_seen_at")[: MAX_SHOWN + 1]
    )
    if not alerts:
        return None
    for alert in alerts:
        # Generic webhooks send a description; Alertmanager and Grafana annotate one or a summary.
        notes = alert.annotations if isinstance(alert.annotations, dict) else {}
        alert.description = str(notes.get("description") or notes.get("summary") or "")
    return {
        "alerts": alerts[:MAX_SHOWN],
        "more": len(alerts) > MAX_SHOWN,
        "firing_count": sum(1 for a in alerts if a.status == "firing"),
    }


def register_alerts_panel() -> None:
    register_panel(
        IncidentPanel(
            key="alerts",
            title="Alerts",
            template="incidents/_alerts_panel.html",
            get_context=alerts_panel_context,
            order=10,
        )
    )
