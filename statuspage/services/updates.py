"""Public incidents and their updates: drafting from templates, approving, posting.

Every post writes one timeline entry on the incident and one audit row, in the transaction that
stores the update, and queues the subscriber deliveries (rows inserted in the same
transaction, handed to workers after commit).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import audit
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from statuspage.cache import invalidate_pages
from statuspage.errors import InvalidStatusInput, StatusPageError
from statuspage.languages import catalog_language, clean_translations, pick
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
RESOLVED_TEXT = gettext_noop("This incident has been resolved. Thank you for your patience.")
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


# What a poster may give per language (statuspage.languages), with the lengths of the fields.
UPDATE_TEXTS = {"body": MAX_BODY, "name": 200, "degradation_message": 500}


def _default_texts(language: str) -> tuple[str, str]:
    with translation.override(catalog_language(language)):
        return (
            _("Problems with {service}"),
            _(
                "We are investigating problems with {components} since {start_time}. "
                "Next update by {next_update}."
            ),
        )


def _in_language(text: str, language: str) -> str:
    with translation.override(catalog_language(language)):
        return _(text)


def _drafted_texts(*, page, incident, components, template, now, language) -> dict[str, str]:
    """Title, body and degradation message of the first update in one page language: the
    template's words in that language where written (else its default words), or our default
    text translated."""
    default = language == page.default_language
    values = templates.placeholder_values(
        page=page,
        incident=incident,
        component_names=[
            c.name if default else pick(c.translations, language, "name", c.name)
            for c in components
        ],
        template=template,
        now=now,
        language=language,
    )
    if template:
        words = {
            name: getattr(template, name)
            if default
            else pick(template.translations, language, name, getattr(template, name))
            for name in ("title", "body", "degradation_message")
        }
    else:
        title, body = _default_texts(language)
        words = {"title": title, "body": body, "degradation_message": ""}
    return {
        "name": templates.fill(words["title"], values)[:200],
        "body": templates.fill(words["body"], values)[:MAX_BODY],
        "degradation_message": templates.fill(words["degradation_message"], values)[:500],
    }


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
    texts = {
        language: _drafted_texts(
            page=page,
            incident=incident,
            components=components,
            template=template,
            now=now,
            language=language,
        )
        for language in page.languages or [page.default_language]
    }
    first = texts[page.default_language]
    # Other languages keep only the words that differ from the default language's.
    others = {
        code: {k: v for k, v in t.items() if v and v != first[k]}
        for code, t in texts.items()
        if code != page.default_language
    }
    try:
        with transaction.atomic():
            public = PublicIncident.objects.create(
                page=page,
                incident=incident,
                name=first["name"],
                impact=impact_for_severity(incident.severity),
                degradation_message=first["degradation_message"],
                translations={
                    code: {k: v for k, v in t.items() if k in ("name", "degradation_message")}
                    for code, t in others.items()
                    if "name" in t or "degradation_message" in t
                },
                created_at=now,
                updated_at=now,
            )
            public.components.set(components)
            update = PublicUpdate.objects.create(
                public_incident=public,
                status=UpdateStatus.INVESTIGATING,
                body=first["body"],
                translations={
                    code: {"body": t["body"]} for code, t in others.items() if "body" in t
                },
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
    degradation_message: str | None = None,
    translations: dict | None = None,
) -> PublicUpdate:
    """Post an update about ``incident`` on ``page`` (creating its public incident if needed).

    A draft waiting for approval is replaced by this update (its row becomes the posted one).
    ``translations`` gives the words in the page's other languages
    (``{"de": {"body": ..., "name": ..., "degradation_message": ...}}``); a given
    ``degradation_message`` replaces what the avatar says while the incident is active.
    """
    status = _clean_status(status)
    body = _clean_body(body)
    translations = _clean_update_translations(translations, page)
    if degradation_message is not None:
        degradation_message = degradation_message.replace("\x00", "").strip()
        if len(degradation_message) > 500:
            raise InvalidStatusInput(
                f"a degradation message is at most 500 characters, got {len(degradation_message)}"
            )
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
        public = PublicIncident.objects.select_for_update().get(pk=public.pk)
        changed = []
        if name and name != public.name:
            public.name = name
            changed.append("name")
        if degradation_message is not None and degradation_message != public.degradation_message:
            public.degradation_message = degradation_message
            changed.append("degradation_message")
        incident_texts = _merged_incident_translations(public.translations, translations)
        if incident_texts != public.translations:
            public.translations = incident_texts
            changed.append("translations")
        if changed:
            public.save(update_fields=changed)
        update = public.updates.filter(posted_at__isnull=True).first()
        if update is None:
            update = PublicUpdate(public_incident=public, created_at=now)
        update.status = status
        update.body = body
        update.translations = {
            code: {"body": texts["body"]} for code, texts in translations.items() if "body" in texts
        }
        if update.pk is None:
            update.save(force_insert=True)
        return _post(update=update, actor=actor, now=now)


def _clean_update_translations(value, page: StatusPage) -> dict[str, dict[str, str]]:
    translations = clean_translations(value, UPDATE_TEXTS)
    unknown = sorted(set(translations) - set(page.languages or []))
    if unknown:
        raise InvalidStatusInput(
            f"translations: {', '.join(unknown)} is not a language of status page "
            f"{page.slug} (its languages: {', '.join(page.languages)})"
        )
    return translations


def _merged_incident_translations(current: dict, given: dict) -> dict:
    merged = {code: dict(texts) for code, texts in (current or {}).items()}
    for code, texts in given.items():
        for key in ("name", "degradation_message"):
            if key in texts:
                merged.setdefault(code, {})[key] = texts[key]
    return merged


def approve_draft(
    *,
    update: PublicUpdate,
    actor: Actor,
    body: str | None = None,
    translations: dict | None = None,
) -> PublicUpdate:
    """One click in the room: post the drafted update (optionally with edited words, in the
    default language as ``body`` and in the others as ``{"de": {"body": ...}}``)."""
    with transaction.atomic():
        update = (
            PublicUpdate.objects.select_for_update()
            .select_related("public_incident__page")
            .get(pk=update.pk)
        )
        if update.posted_at is not None:
            raise StatusPageError(
                f"cannot approve update {update.pk}: it was posted at "
                f"{update.posted_at:%H:%M:%S} UTC already"
            )
        if body is not None:
            update.body = _clean_body(body)
        edited = _clean_update_translations(translations, update.public_incident.page)
        if edited:
            merged = {code: dict(texts) for code, texts in (update.translations or {}).items()}
            for code, texts in edited.items():
                if "body" in texts:
                    merged.setdefault(code, {})["body"] = texts["body"]
            update.translations = merged
            update.save(update_fields=["translations"])
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
            page = public.page
            words = {
                code: _in_language(RESOLVED_TEXT, code)
                for code in page.languages or [page.default_language]
            }
            update = PublicUpdate.objects.create(
                public_incident=public,
                status=UpdateStatus.RESOLVED,
                body=words.pop(page.default_language, _in_language(RESOLVED_TEXT, "en")),
                translations={code: {"body": text} for code, text in words.items()},
                created_at=now,
            )
            posted.append(_post(update=update, actor=DRAFTER, now=now))
    return posted
