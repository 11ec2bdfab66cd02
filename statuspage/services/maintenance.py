"""Maintenance windows: scheduled -> in progress -> completed, and the silence they keep.

While a window is in progress, automatic incidents (alerts, probes, heartbeats) on the services
of its components do not open: ``suppress_during_maintenance`` (registered with
incidents.suppression) records a SuppressedOpening instead, in the caller's transaction. When
the window completes, every suppressed opening that did not recover meanwhile opens for real
(an alert delivery is re-applied as it came; a probe opens its incident), unless another window
still silences it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Integration, Source
from incidents.suppression import Opening
from statuspage.cache import invalidate_pages
from statuspage.errors import InvalidStatusInput, StatusPageError
from statuspage.languages import clean_translations
from statuspage.models import (
    Component,
    MaintenanceStatus,
    MaintenanceWindow,
    StatusPage,
    SuppressedOpening,
)

log = logging.getLogger(__name__)
SWEEPER = Actor.system("maintenance")
MAX_WINDOW_DAYS = 31


def schedule_window(
    *,
    page: StatusPage,
    title: str,
    body: str,
    components: list[Component],
    starts_at: datetime,
    ends_at: datetime,
    actor: Actor,
    translations: dict | None = None,
) -> MaintenanceWindow:
    """Schedule a window; ``translations`` gives its title and body in the page's other
    languages (``{"de": {"title": ..., "body": ...}}``)."""
    title = (title or "").replace("\x00", "").strip()[:200]
    translations = clean_translations(translations, {"title": 200, "body": 5000})
    if not title:
        raise InvalidStatusInput("a maintenance window needs a title")
    if not components:
        raise InvalidStatusInput("a maintenance window needs at least one component")
    if any(c.page_id != page.pk for c in components):
        raise InvalidStatusInput("every component must belong to this status page")
    if ends_at <= starts_at:
        raise InvalidStatusInput("a maintenance window must end after it starts")
    if (ends_at - starts_at).days > MAX_WINDOW_DAYS:
        raise InvalidStatusInput(f"a maintenance window lasts at most {MAX_WINDOW_DAYS} days")
    for moment in (starts_at, ends_at):
        if not 1970 <= moment.year <= 2100:
            raise InvalidStatusInput("maintenance times must lie between 1970 and 2100")
    with transaction.atomic():
        window = MaintenanceWindow.objects.create(
            page=page,
            title=title,
            body=(body or "").replace("\x00", "")[:5000],
            translations=translations,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        window.components.set(components)
        audit.record(
            action="statuspage.maintenance_scheduled",
            actor=actor.user_or_none,
            actor_label=actor.label,
            ip=actor.ip,
            team=page.team,
            target=f"maintenance {window.pk}",
            data={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        )
        invalidate_pages([page.slug])
    advance_windows()
    return MaintenanceWindow.objects.get(pk=window.pk)


def windows_in_progress_for(service_id: int, now: datetime):
    """Windows silencing this service now: in progress (or due to be) and not past their end."""
    return MaintenanceWindow.objects.filter(
        components__services__id=service_id,
        status__in=[MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS],
        starts_at__lte=now,
        ends_at__gt=now,
    ).distinct()


def suppress_during_maintenance(opening: Opening) -> bool:
    """The suppressor registered with incidents.suppression (called in the opener's
    transaction). Records the silenced opening, counting repeats; True = do not open."""
    now = timezone.now()
    window = windows_in_progress_for(opening.service.pk, now).order_by("pk").first()
    if window is None:
        return False
    key = opening.dedup_key or ""
    with transaction.atomic():
        updated = SuppressedOpening.objects.filter(
            window=window, service=opening.service, dedup_key=key
        ).update(
            count=F("count") + 1,
            last_at=now,
            title=opening.title[:255],
            severity=opening.severity,
            summary=opening.summary,
            replay=opening.replay,
            cleared_at=None,
        )
        if not updated:
            try:
                with transaction.atomic():
                    SuppressedOpening.objects.create(
                        window=window,
                        service=opening.service,
                        source=opening.source,
                        dedup_key=key,
                        title=opening.title[:255],
                        severity=opening.severity,
                        summary=opening.summary,
                        actor_label=opening.actor_label[:150],
                        replay=opening.replay,
                        first_at=now,
                        last_at=now,
                    )
            except IntegrityError:  # a concurrent first suppression: count ours on its row
                SuppressedOpening.objects.filter(
                    window=window, service=opening.service, dedup_key=key
                ).update(count=F("count") + 1, last_at=now)
    log.info("maintenance %s silenced %s on %s", window.pk, key, opening.service)
    return True


def forget_recovered(*, service_id: int, dedup_key: str) -> None:
    """The clear listener: what recovered during the window will not open when it ends."""
    SuppressedOpening.objects.filter(
        service_id=service_id,
        dedup_key=dedup_key or "",
        released_at__isnull=True,
        cleared_at__isnull=True,
    ).update(cleared_at=timezone.now())


# --- the life of a window -----------------------------------------------------------------


def advance_windows(*, now: datetime | None = None) -> dict[str, list[int]]:
    """Start due windows and complete ended ones (the sweep calls this; safe twice at once:
    each change is a conditional UPDATE on the status)."""
    now = now or timezone.now()
    started, completed = [], []
    for window in MaintenanceWindow.objects.filter(
        status=MaintenanceStatus.SCHEDULED, starts_at__lte=now, ends_at__gt=now
    ).select_related("page"):
        if MaintenanceWindow.objects.filter(
            pk=window.pk, status=MaintenanceStatus.SCHEDULED
        ).update(status=MaintenanceStatus.IN_PROGRESS, started_at=now, updated_at=now):
            started.append(window.pk)
            invalidate_pages([window.page.slug])
    for window in MaintenanceWindow.objects.filter(
        status__in=[MaintenanceStatus.SCHEDULED, MaintenanceStatus.IN_PROGRESS], ends_at__lte=now
    ).select_related("page"):
        complete_window(window=window, actor=SWEEPER, now=now)
        completed.append(window.pk)
    return {"started": started, "completed": completed}


def complete_window(
    *, window: MaintenanceWindow, actor: Actor, now: datetime | None = None
) -> MaintenanceWindow:
    """End the window (at its time, or early by hand) and open what still fails."""
    now = now or timezone.now()
    with transaction.atomic():
        window = (
            MaintenanceWindow.objects.select_for_update().select_related("page").get(pk=window.pk)
        )
        if window.status == MaintenanceStatus.COMPLETED:
            return window
        window.status = MaintenanceStatus.COMPLETED
        window.completed_at = now
        window.updated_at = now
        fields = ["status", "completed_at", "updated_at"]
        if window.ends_at > now:  # ended early by hand
            window.ends_at = max(now, window.starts_at + timedelta(seconds=1))
            fields.append("ends_at")
        window.save(update_fields=fields)
        audit.record(
            action="statuspage.maintenance_completed",
            actor=actor.user_or_none,
            actor_label=actor.label,
            ip=actor.ip,
            team=window.page.team,
            target=f"maintenance {window.pk}",
        )
        invalidate_pages([window.page.slug])
    release_suppressed(window=window)
    return window


def release_suppressed(*, window: MaintenanceWindow) -> list[int]:
    """Open, for real, each opening the window silenced and that did not recover. Idempotent:
    each row is claimed (released_at) before its opening is replayed, in one transaction."""
    opened = []
    for pk in SuppressedOpening.objects.filter(window=window, released_at__isnull=True).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            row = (
                SuppressedOpening.objects.select_for_update(skip_locked=True)
                .select_related("service")
                .filter(pk=pk, released_at__isnull=True)
                .first()
            )
            if row is None:
                continue
            row.released_at = timezone.now()
            incident = None if row.cleared_at else _replay(row)
            row.released_incident = incident
            row.save(update_fields=["released_at", "released_incident"])
            if incident is not None:
                opened.append(incident.pk)
    return opened


def _replay(row: SuppressedOpening):
    if row.source == Source.INTEGRATION and row.replay.get("integration_id"):
        from incidents.ingest.applying import apply_normalized

        integration = (
            Integration.objects.select_related("service")
            .filter(pk=row.replay["integration_id"], is_active=True)
            .first()
        )
        if integration is None:
            return None
        return apply_normalized(integration=integration, normalized=row.replay["normalized"])
    # Probes and heartbeats: the same opening, by the same probe, with the same dedup key.
    from incidents import suppression

    opening = Opening(
        service=row.service, source=row.source, dedup_key=row.dedup_key, title=row.title,
        severity=row.severity, summary=row.summary, actor_label=row.actor_label,
    )  # fmt: skip
    if suppression.suppressed(opening):  # another window still silences it
        return None
    incident, _created = incident_services.open_incident(
        service=row.service,
        title=row.title,
        severity=row.severity,
        actor=Actor.probe(row.actor_label) if row.source == Source.PROBE else SWEEPER,
        summary=row.summary,
        dedup_key=row.dedup_key,
        source=row.source,
        data={"after_maintenance": row.window_id, "suppressed_count": row.count},
    )
    return incident


def maintenance_active_component_ids(page: StatusPage, now: datetime) -> set[int]:
    return set(
        Component.objects.filter(
            page=page,
            maintenances__status=MaintenanceStatus.IN_PROGRESS,
            maintenances__ends_at__gt=now,
        ).values_list("pk", flat=True)
    )


def refuse_if_completed(window: MaintenanceWindow) -> None:
    if window.status == MaintenanceStatus.COMPLETED:
        raise StatusPageError(f"maintenance “{window.title}” is completed already")
