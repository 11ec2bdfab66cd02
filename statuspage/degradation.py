"""What an avatar should say about its own service right now.

``current(service)`` is the one function other apps (the llm app's failover) call:

    from statuspage.degradation import current
    state = current(service)          # Degradation(state, message, since, pages)
    if state.degraded: say(state.message)

The state is the worst effective state of the components backed by the service (overrides
and maintenance included); the message comes from the active public incident (its template's
degradation message, else its newest update), else a default sentence for the state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.models import Service
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    MaintenanceStatus,
    PublicIncident,
)

DEFAULT_MESSAGES = {
    ComponentStatus.OPERATIONAL: "",
    ComponentStatus.UNDER_MAINTENANCE: "We are doing planned maintenance; some answers may "
    "be slower or limited for a short while.",
    ComponentStatus.DEGRADED_PERFORMANCE: "I am a little slower than usual right now; thank "
    "you for your patience.",
    ComponentStatus.PARTIAL_OUTAGE: "I am limited right now and may not be able to help with "
    "everything; we are working on it.",
    ComponentStatus.MAJOR_OUTAGE: "I cannot help properly right now because of a technical "
    "problem; please try again later.",
}


@dataclass(frozen=True)
class Degradation:
    state: str
    message: str
    since: datetime | None
    page_slugs: list[str] = field(default_factory=list)
    public: bool = False
    # True when the message was written by people (an active public incident's template or
    # update), False for the default sentence of the state.
    written: bool = False

    @property
    def degraded(self) -> bool:
        return self.state != ComponentStatus.OPERATIONAL

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "degraded": self.degraded,
            "message": self.message,
            "since": self.since.isoformat() if self.since else None,
        }


def current(service: Service, *, now: datetime | None = None) -> Degradation:
    now = now or timezone.now()
    components = list(
        Component.objects.filter(services=service).select_related("page").order_by("pk")
    )
    if not components:
        return Degradation(ComponentStatus.OPERATIONAL, "", None)
    maintenance = set(
        Component.objects.filter(
            pk__in=[c.pk for c in components],
            maintenances__status=MaintenanceStatus.IN_PROGRESS,
            maintenances__ends_at__gt=now,
        ).values_list("pk", flat=True)
    )
    worst_state, since = ComponentStatus.OPERATIONAL, None
    for component in components:
        state = component.status_at(now, in_maintenance=component.pk in maintenance)
        if STATUS_RANK[state] > STATUS_RANK[worst_state]:
            worst_state, since = state, component.status_changed_at
        elif state == worst_state and state != ComponentStatus.OPERATIONAL:
            since = min(since, component.status_changed_at) if since else None
    pages = sorted({c.page.slug for c in components})
    public = any(c.page.degradation_public for c in components)
    if worst_state == ComponentStatus.OPERATIONAL:
        return Degradation(worst_state, "", None, pages, public)
    message = ""
    active = (
        PublicIncident.objects.filter(
            components__in=components, published_at__isnull=False, resolved_at__isnull=True
        )
        .prefetch_related("updates")
        .order_by("-published_at", "-pk")
        .first()
    )
    if active is not None:
        message = active.degradation_message
    written = bool(message)
    message = message or _(DEFAULT_MESSAGES[ComponentStatus(worst_state)])
    return Degradation(worst_state, message, since, pages, public, written)
