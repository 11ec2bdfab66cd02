"""What every message says: incident, severity and label, service, what happened, the room
link and the acknowledge link. Built once per delivery row and stored on it, so a retry sends
the same words."""

from __future__ import annotations

from incidents.models import Severity
from incidents.outbound import fill_json_template, incident_template_context, incident_url
from oncall.models import LEVEL_NAMES


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
    """The JSON body of an L1 automated action: ``incidents.outbound.fill_json_template`` over
    the incident's context plus ``level`` (``$title`` and ``{{ incident.title }}`` both work)."""
    return fill_json_template(template, {**incident_template_context(incident), "level": level})
