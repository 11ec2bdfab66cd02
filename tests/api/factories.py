"""Factories of the API tests (the shared ones live in tests/factories.py)."""

from __future__ import annotations

from incidents import services
from incidents.actors import Actor


def open_incident(service, **kwargs):
    """An incident opened through the service layer, as the API and UI do."""
    kwargs.setdefault("title", "Sales avatar silent")
    kwargs.setdefault("severity", 4)
    kwargs.setdefault("actor", Actor.system("test"))
    incident, _ = services.open_incident(service=service, **kwargs)
    return incident
