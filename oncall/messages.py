"""What every message says: incident, severity and label, service, what happened, the room
link and the acknowledge link. Built once per delivery row and stored on it, so a retry sends
the same words."""

from __future__ import annotations

from string import Template

from django.conf import settings

from incidents.models import Severity
from oncall.models import LEVEL_NAMES


def incident_url(incident) -> str:
    return f"{settings.BASE_URL}/incidents/{incident.pk}/"


def incident_facts(incident) -> dict:
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "severity": incident.severity,
        "severity_label": Severity(incident.severity).label,
        "status": incident.status,
        "service": incident.service.name,
        "service_slug": incident.service.slug,
        "summary": incident.summary,
        "url": incident_url(incident),
        "triggered_at": incident.triggered_at.isoformat(),
        "is_drill": incident.is_drill,
    }


def build_message(
    *, incident, level: int, purpose: str, reason: str, ack_url: str = "", ack_expires=None
) -> dict:
    what = incident.summary or incident.title
    if purpose == "inform":
        what_happened = f"{what} (for your information: {reason})"
    else:
        what_happened = f"{what} ({reason}, not yet acknowledged)"
    if incident.is_drill:
        # Every message about a game day says so first, whatever the channel shows of it.
        what_happened = f"DRILL (game day, not a real outage): {what_happened}"
    return {
        "incident": incident_facts(incident),
        "level": level,
        "level_name": LEVEL_NAMES[level],
        "purpose": purpose,
        "what_happened": what_happened,
        "acknowledge_url": ack_url,
        "acknowledge_expires_at": ack_expires.isoformat() if ack_expires else None,
    }


def message_subject(payload: dict) -> str:
    incident = payload["incident"]
    prefix = "[Vigil FYI]" if payload.get("purpose") == "inform" else "[Vigil]"
    if incident.get("is_drill"):
        prefix = f"[DRILL] {prefix}"
    return (
        f"{prefix} {incident['reference']} sev {incident['severity']} "
        f"({incident['severity_label']}): {incident['title']}"
    )[:200]


def message_text(payload: dict) -> str:
    incident = payload["incident"]
    lines = [
        *(
            ["DRILL: this is a game day, not a real outage.", ""]
            if incident.get("is_drill")
            else []
        ),
        f"{incident['reference']}: {incident['title']}",
        f"Severity: {incident['severity']} ({incident['severity_label']})",
        f"Service: {incident['service']}",
        f"Escalation: {payload['level_name']}",
        "",
        f"What happened: {payload['what_happened']}",
        "",
        f"Incident room: {incident['url']}",
    ]
    if payload.get("acknowledge_url"):
        lines += [
            f"Acknowledge (no login needed, works once, valid 1 hour): {payload['acknowledge_url']}",
        ]
    return "\n".join(lines) + "\n"


def render_action_body(template, *, incident, level: int):
    """Fill ``$name`` placeholders in every string of a JSON template. No code runs, and the
    values land inside JSON strings, so a title cannot change the structure."""
    values = {
        "reference": incident.reference,
        "incident_id": str(incident.pk),
        "title": incident.title,
        "severity": str(incident.severity),
        "severity_label": Severity(incident.severity).label,
        "service": incident.service.name,
        "service_slug": incident.service.slug,
        "summary": incident.summary,
        "url": incident_url(incident),
        "level": str(level),
    }

    def fill(node):
        if isinstance(node, str):
            return Template(node).safe_substitute(values)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {fill(k): fill(v) for k, v in node.items()}
        return node

    return fill(template)
