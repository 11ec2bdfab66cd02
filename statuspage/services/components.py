"""Component states: derived from open incidents, overridden by hand until a set time."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts import audit
from incidents.actors import Actor
from incidents.models import Incident
from statuspage.cache import invalidate_pages
from statuspage.errors import StatusPageError
from statuspage.models import Component, ComponentStatus, status_for_severity

MAX_OVERRIDE_SECONDS = 366 * 86400


def worst_open_severity(service_ids) -> dict[int, int]:
    """Service id -> highest severity among its open, non-drill incidents."""
    rows = (
        Incident.objects.open()
        .filter(service_id__in=list(service_ids), is_drill=False)
        .values("service_id")
        .annotate(worst=Max("severity"))
    )
    return {row["service_id"]: row["worst"] for row in rows}


def refresh_components_for_service(*, service_id: int) -> list[int]:
    """Recompute the derived state of every component backed by this service (see below)."""
    return refresh_components_for_service_ids(service_ids=[service_id])


def refresh_components_for_service_ids(
    *, service_ids: list[int], component_ids: list[int] | None = None
) -> list[int]:
    """Recompute the derived state of the components backed by these services (and of
    ``component_ids``, e.g. one whose services just changed).

    Idempotent and order-free: it reads the open incidents as they are now, so a late or
    repeated event converges on the same state. Returns the ids of components that changed.
    """
    changed: list[int] = []
    slugs: set[str] = set()
    with transaction.atomic():
        wanted = Q(services__id__in=list(service_ids)) | Q(pk__in=list(component_ids or []))
        ids = sorted(set(Component.objects.filter(wanted).values_list("pk", flat=True)))
        if not ids:
            return []
        components = list(
            Component.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("page")
            .order_by("pk")
        )
        links = Component.services.through.objects.filter(component_id__in=ids).values_list(
            "component_id", "service_id"
        )
        services_of: dict[int, list[int]] = {}
        for component_id, linked_service in links:
            services_of.setdefault(component_id, []).append(linked_service)
        worst = worst_open_severity({s for ids_ in services_of.values() for s in ids_})
        now = timezone.now()
        for component in components:
            severity = max((worst.get(s, 0) for s in services_of.get(component.pk, [])), default=0)
            status = status_for_severity(severity)
            if status != component.derived_status:
                component.derived_status = status
                component.status_changed_at = now
                component.save(update_fields=["derived_status", "status_changed_at"])
                changed.append(component.pk)
                slugs.add(component.page.slug)
        invalidate_pages(slugs)
    return changed


@transaction.atomic
def set_override(
    *, component: Component, status: str, until: datetime, actor: Actor, now: datetime | None = None
) -> Component:
    """Show ``status`` on the component until ``until``, whatever the incidents say."""
    now = now or timezone.now()
    if status not in ComponentStatus.values:
        raise StatusPageError(
            f"cannot override {component.name}: {status!r} is not one of "
            f"{', '.join(ComponentStatus.values)}"
        )
    if until <= now:
        raise StatusPageError(f"cannot override {component.name}: the expiry must be in the future")
    if (until - now).total_seconds() > MAX_OVERRIDE_SECONDS:
        raise StatusPageError(f"cannot override {component.name}: at most one year ahead")
    component = Component.objects.select_for_update().select_related("page").get(pk=component.pk)
    component.override_status = status
    component.override_until = until
    component.status_changed_at = now
    component.save(update_fields=["override_status", "override_until", "status_changed_at"])
    audit.record(
        action="statuspage.component_overridden",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=component.page.team,
        target=f"component {component.pk}",
        data={"status": status, "until": until.isoformat()},
    )
    invalidate_pages([component.page.slug])
    return component


@transaction.atomic
def clear_override(*, component: Component, actor: Actor) -> Component:
    component = Component.objects.select_for_update().select_related("page").get(pk=component.pk)
    if not component.override_status:
        raise StatusPageError(f"{component.name} has no manual override to clear")
    component.override_status = ""
    component.override_until = None
    component.status_changed_at = timezone.now()
    component.save(update_fields=["override_status", "override_until", "status_changed_at"])
    audit.record(
        action="statuspage.override_cleared",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=component.page.team,
        target=f"component {component.pk}",
    )
    invalidate_pages([component.page.slug])
    return component


def expire_overrides(*, now: datetime | None = None) -> int:
    """Drop overrides past their time (the read side already ignores them; this tidies up)."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Component.objects.filter(override_until__lte=now)
            .select_related("page")
            .only("pk", "page__slug")
        )
        if not expired:
            return 0
        Component.objects.filter(pk__in=[c.pk for c in expired], override_until__lte=now).update(
            override_status="", override_until=None, status_changed_at=now
        )
        invalidate_pages({c.page.slug for c in expired})
    return len(expired)
