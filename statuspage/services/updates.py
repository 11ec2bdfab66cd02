"""Public incidents and their updates: drafting from templates, approving, posting.

Every post writes one timeline entry on the incident and one audit row, in the transaction that
stores the update, and queues the subscriber deliveries (rows inserted in the same
transaction, handed to workers after commit).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from statuspage.cache import invalidate_pages
from statuspage.errors import InvalidStatusInput, StatusPageError
from statuspage.models import (
    Component,
    PublicIncident,
    PublicUpdate,
    StatusPage,
    UpdateStatus,
    impact_for_severity,
)
from statuspage.services import templates

log = logging.getLogger(__name__)

DRAFT_MIN_SEVERITY = 3
MAX_BODY = 5000
DRAFTER = Actor.system("status page")


def _clean_body(body: str) -> str:
    body = (body or "").replace("\x00", "").strip()
    if not body:
        raise InvalidStatusInput("an update needs a message")
    if len(body) > MAX_BODY:
        raise InvalidStatusInput(f"an update is at most {MAX_BODY} characters, got {len(body)}")
    return body


def _clean_status(status: str) -> str:
    if status not in UpdateStatus.values:
        raise InvalidStatusInput(
            f"status must be one of {', '.join(UpdateStatus.values)}, got {status!r}"
        )
    return status


def pages_for_incident(incident: Incident) -> list[StatusPage]:
    """The incident's team's pages that show one of its service's components."""
    return list(
        StatusPage.objects.filter(
            team_id=incident.team_id, components__services__id=incident.service_id
        )
        .distinct()
        .order_by("pk")
    )


def _components_of(page: StatusPage, incident: Incident) -> list[Component]:
    return list(page.components.filter(services__id=incident.service_id).distinct())


def _default_texts() -> tuple[str, str]:
    return (
        _("Problems with {service}"),
        _(
            "We are investigating problems with {components} since {start_time}. "
            "Next update by {next_update}."
        ),
    )


# --- drafting -----------------------------------------------------------------------------


def draft_first_updates(*, incident_id: int) -> list[PublicUpdate]:
    """When a non-drill incident of severity >= 3 opens: draft the first public update on each
    page showing its service, from the best matching template, and post it at once where the
    page says so. Idempotent: one public incident per (page, incident), whoever calls."""
    incident = Incident.objects.select_related("service").filter(pk=incident_id).first()
    if (
        incident is None
        or incident.is_drill
        or not incident.is_open
        or incident.severity < DRAFT_MIN_SEVERITY
    ):
        return []
    drafted = []
    template = None
    for page in pages_for_incident(incident):
        if PublicIncident.objects.filter(page=page, incident=incident).exists():
            continue
        if template is None:
            template = templates.best_template(incident) or False
        update = _draft_on_page(page=page, incident=incident, template=template or None)
        if update is not None:
            drafted.append(update)
    return drafted


def _draft_on_page(*, page: StatusPage, incident: Incident, template) -> PublicUpdate | None:
    now = timezone.now()
    components = _components_of(page, incident)
    values = templates.placeholder_values(
        page=page,
        incident=incident,
        component_names=[c.name for c in components],
        template=template,
        now=now,
    )
    title, body = (template.title, template.body) if template else _default_texts()
    try:
        with transaction.atomic():
            public = PublicIncident.objects.create(
                page=page,
                incident=incident,
                name=templates.fill(title, values)[:200],
                impact=impact_for_severity(incident.severity),
                degradation_message=templates.fill(
                    template.degradation_message if template else "", values
                )[:500],
                created_at=now,
                updated_at=now,
            )
            public.components.set(components)
            update = PublicUpdate.objects.create(
                public_incident=public,
                status=UpdateStatus.INVESTIGATING,
                body=templates.fill(body, values)[:MAX_BODY],
                template=template,
                created_at=now,
            )
            how = f"from template “{template.name}”" if template else "from the default text"
            incident_services.record(
                incident=incident,
                kind="status_update_drafted",
                actor=DRAFTER,
                at=now,
                message=f"First public update drafted for status page {page.title} {how}",
                data={"page_id": page.pk, "update_id": update.pk},
            )
            if page.auto_post_first_update:
                _post(update=update, actor=DRAFTER, now=now)
            invalidate_pages([page.slug])
    except IntegrityError:
        return None  # another worker drafted it first
    return update


# --- posting ------------------------------------------------------------------------------


def _post(*, update: PublicUpdate, actor: Actor, now: datetime) -> PublicUpdate:
    """Make a (locked) update public. Caller holds the transaction."""
    from statuspage.services.subscribers import queue_deliveries

    public = (
        PublicIncident.objects.select_for_update()
        .select_related("page", "incident")
        .get(pk=update.public_incident_id)
    )
    update.posted_at = now
    update.posted_by = actor.user_or_none
    update.save(update_fields=["posted_at", "posted_by", "status", "body"])
    public.status = update.status
    public.updated_at = now
    fields = ["status", "updated_at"]
    if public.published_at is None:
        public.published_at = now
        fields.append("published_at")
    if update.status == UpdateStatus.RESOLVED:
        public.resolved_at = now
        fields.append("resolved_at")
    elif public.resolved_at is not None:
        public.resolved_at = None
        fields.append("resolved_at")
    public.save(update_fields=fields)
    page = public.page
    incident_services.record(
        incident=public.incident,
        kind="status_update_posted",
        actor=actor,
        at=now,
        message=f"Public update ({update.get_status_display()}) posted on status page "
        f"{page.title} by {actor}",
        data={"page_id": page.pk, "update_id": update.pk, "status": update.status},
    )
    audit.record(
        action="statuspage.update_posted",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=page.team,
        target=f"status update {update.pk}",
        data={"page": page.slug, "incident_id": public.incident_id, "status": update.status},
    )
    queue_deliveries(update=update, public_incident=public)
    invalidate_pages([page.slug])
    return update


def post_update(
    *,
    page: StatusPage,
    incident: Incident,
    status: str,
    body: str,
    actor: Actor,
    name: str = "",
) -> PublicUpdate:
    """Post an update about ``incident`` on ``page`` (creating its public incident if needed).

    A draft waiting for approval is replaced by this update (its row becomes the posted one).
    """
    status = _clean_status(status)
    body = _clean_body(body)
    if incident.team_id != page.team_id:
        raise StatusPageError(
            f"cannot post about {incident.reference} on {page.title}: another team's page"
        )
    if incident.is_drill:
        raise StatusPageError(f"cannot post about {incident.reference}: it is a drill")
    now = timezone.now()
    name = (name or "").replace("\x00", "").strip()[:200]
    with transaction.atomic():
        public, created = PublicIncident.objects.get_or_create(
            page=page,
            incident=incident,
            defaults={
                "name": name or incident.service.name,
                "impact": impact_for_severity(incident.severity),
                "created_at": now,
                "updated_at": now,
            },
        )
        if created:
            public.components.set(_components_of(page, incident))
        elif name and name != public.name:
            public.name = name
            public.save(update_fields=["name"])
        public = PublicIncident.objects.select_for_update().get(pk=public.pk)
        update = public.updates.filter(posted_at__isnull=True).first()
        if update is None:
            update = PublicUpdate(public_incident=public, created_at=now)
        update.status = status
        update.body = body
        if update.pk is None:
            update.save(force_insert=True)
        return _post(update=update, actor=actor, now=now)


def approve_draft(*, update: PublicUpdate, actor: Actor, body: str | None = None) -> PublicUpdate:
    """One click in the room: post the drafted update (optionally with edited words)."""
    with transaction.atomic():
        update = PublicUpdate.objects.select_for_update().get(pk=update.pk)
        if update.posted_at is not None:
            raise StatusPageError(
                f"cannot approve update {update.pk}: it was posted at "
                f"{update.posted_at:%H:%M:%S} UTC already"
            )
        if body is not None:
            update.body = _clean_body(body)
        return _post(update=update, actor=actor, now=timezone.now())


@transaction.atomic
def discard_draft(*, update: PublicUpdate, actor: Actor) -> None:
    update = (
        PublicUpdate.objects.select_for_update()
        .select_related("public_incident__page", "public_incident__incident")
        .get(pk=update.pk)
    )
    if update.posted_at is not None:
        raise StatusPageError(f"cannot discard update {update.pk}: it is public already")
    public = update.public_incident
    incident_services.record(
        incident=public.incident,
        kind="status_update_discarded",
        actor=actor,
        message=f"Drafted public update for {public.page.title} discarded by {actor}",
        data={"page_id": public.page_id, "update_id": update.pk},
    )
    audit.record(
        action="statuspage.draft_discarded",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=public.page.team,
        target=f"status update {update.pk}",
    )
    update.delete()
    if not public.is_published and not public.updates.exists():
        public.delete()


def resolve_public_incidents(*, incident_id: int) -> list[PublicUpdate]:
    """The incident resolved: published public incidents get a resolved update; drafts that
    were never approved are dropped. Idempotent."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or incident.is_open:
        return []
    posted = []
    for public in PublicIncident.objects.filter(incident=incident).select_related("page"):
        with transaction.atomic():
            public = PublicIncident.objects.select_for_update().get(pk=public.pk)
            if public.published_at is None:
                public.updates.filter(posted_at__isnull=True).delete()
                public.delete()
                continue
            if public.status == UpdateStatus.RESOLVED:
                continue
            now = timezone.now()
            public.updates.filter(posted_at__isnull=True).delete()
            update = PublicUpdate.objects.create(
                public_incident=public,
                status=UpdateStatus.RESOLVED,
                body=_("This incident has been resolved. Thank you for your patience."),
                created_at=now,
            )
            posted.append(_post(update=update, actor=DRAFTER, now=now))
    return posted
