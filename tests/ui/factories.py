"""Helpers for the triage UI's tests: incidents opened through the services, as in real life."""

from __future__ import annotations

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident


def open_incident(service, *, title="Sales avatar silent", severity=4, **kwargs) -> Incident:
    incident, created = services.open_incident(
        service=service,
        title=title,
        severity=severity,
        actor=kwargs.pop("actor", Actor.system("test")),
        **kwargs,
    )
    assert created
    return incident
