"""Helpers for post-mortem tests: incidents walked through the real services at known times."""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun import freeze_time

from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.services import create_draft

T0 = datetime.fromisoformat("2026-03-02T10:00:00+00:00")


def resolved_incident(service, user, *, severity=4, ack=5, mitigate=20, resolve=90, **kwargs):
    """Open at T0, acknowledge/mitigate/resolve after the given minutes (None skips a step)."""
    actor = Actor.of_user(user)
    with freeze_time(T0):
        incident, _ = incident_services.open_incident(
            service=service,
            title=kwargs.pop("title", "Sales avatar silent"),
            severity=severity,
            actor=Actor.integration("alertmanager"),
            **kwargs,
        )
    for minutes, verb in ((ack, "acknowledge"), (mitigate, "mitigate"), (resolve, "resolve")):
        if minutes is not None:
            with freeze_time(T0 + timedelta(minutes=minutes)):
                incident = getattr(incident_services, verb)(incident=incident, actor=actor)
    incident.refresh_from_db()
    return incident


def draft_for(service, user, **kwargs):
    incident = resolved_incident(service, user, **kwargs)
    postmortem, _ = create_draft(incident=incident, actor=Actor.of_user(user))
    return postmortem
