"""Incident events -> component states and public updates. Every receiver re-reads rows by id
and is idempotent (the event may be dispatched again by the outbox sweep)."""

from __future__ import annotations

from incidents.models import Incident
from statuspage.services import components, updates


def _refresh(incident_id: int) -> Incident | None:
    incident = Incident.objects.filter(pk=incident_id).only("pk", "service_id").first()
    if incident is not None:
        components.refresh_components_for_service(service_id=incident.service_id)
    return incident


def on_opened(sender=None, *, incident_id: int, **details) -> None:
    if _refresh(incident_id) is not None:
        updates.draft_first_updates(incident_id=incident_id)


def on_severity_changed(sender=None, *, incident_id: int, **details) -> None:
    if _refresh(incident_id) is not None:
        updates.draft_first_updates(incident_id=incident_id)


def on_reopened(sender=None, *, incident_id: int, **details) -> None:
    _refresh(incident_id)


def on_resolved(sender=None, *, incident_id: int, **details) -> None:
    if _refresh(incident_id) is not None:
        updates.resolve_public_incidents(incident_id=incident_id)
