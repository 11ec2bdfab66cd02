"""What an avatar should say about its own service right now.

``current(service)`` is the one function other apps (the llm app's failover) call:

    from statuspage.degradation import current
    state = current(service)          # Degradation(state, message, since, pages)
    if state.degraded: say(state.message)

The state is the worst effective state of the components backed by the service (overrides
and maintenance included); the message comes from the active public incident (the degradation
message its template filled in, or one written by hand), else a default sentence for the state.
It is given in every language of the pages showing the service (``messages``): a language
without a written translation gets the written default-language words; without any written
message, the state's default sentence in that language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from incidents.models import Service
from statuspage.languages import DEFAULT_LANGUAGE, catalog_language, pick
from statuspage.models import (
    STATUS_RANK,
    Component,
    ComponentStatus,
    MaintenanceStatus,
    PublicIncident,
    StatusPage,
)

DEFAULT_MESSAGES = {
    ComponentStatus.OPERATIONAL: "",
    ComponentStatus.UNDER_MAINTENANCE: gettext_noop(
        "We are doing planned maintenance; some answers may be slower or limited for a short while."
    ),
    ComponentStatus.DEGRADED_PERFORMANCE: gettext_noop(
        "I am a little slower than usual right now; thank you for your patience."
    ),
    ComponentStatus.PARTIAL_OUTAGE: gettext_noop(
        "I am limited right now and may not be able to help with everything; we are working on it."
    ),
    ComponentStatus.MAJOR_OUTAGE: gettext_noop(
        "I cannot help properly right now because of a technical problem; please try again later."
    ),
}


def default_message(state: str, language: str) -> str:
    """The state's default sentence in ``language`` (English where we have no catalog)."""
    text = DEFAULT_MESSAGES[ComponentStatus(state)]
    if not text:
        return ""
    with translation.override(catalog_language(language)):
        return gettext(text)


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
    # The message in each language of the pages showing the service; ``language`` is the
    # default one (``message`` is in it).
    messages: dict[str, str] = field(default_factory=dict)
    language: str = DEFAULT_LANGUAGE

    @property
    def degraded(self) -> bool:
        return self.state != ComponentStatus.OPERATIONAL

    @property
    def languages(self) -> list[str]:
        return list(self.messages) or [self.language]

    def message_in(self, language: str | None) -> str:
        """The message in ``language`` where the pages speak it, else in the default one."""
        if language and language in self.messages:
            return self.messages[language]
        return self.message

    def as_dict(self, language: str | None = None) -> dict:
        language = language if language in self.messages else self.language
        return {
            "state": self.state,
            "degraded": self.degraded,
            "language": language,
            "message": self.message_in(language),
            "messages": dict(self.messages),
            "since": self.since.isoformat() if self.since else None,
        }


def _page_languages(pages: list[StatusPage], first: StatusPage | None) -> list[str]:
    """The pages' languages, the default of ``first`` (else of the oldest page) first."""
    ordered = ([first] if first else []) + sorted(pages, key=lambda p: p.pk)
    languages: list[str] = []
    for page in ordered:
        for code in page.languages or [DEFAULT_LANGUAGE]:
            if code not in languages:
                languages.append(code)
    return languages or [DEFAULT_LANGUAGE]


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
    pages = {c.page.pk: c.page for c in components}
    slugs = sorted(p.slug for p in pages.values())
    public = any(p.degradation_public for p in pages.values())
    if worst_state == ComponentStatus.OPERATIONAL:
        languages = _page_languages(list(pages.values()), None)
        return Degradation(
            worst_state, "", None, slugs, public, False, dict.fromkeys(languages, ""), languages[0]
        )
    active = (
        PublicIncident.objects.filter(
            components__in=components, published_at__isnull=False, resolved_at__isnull=True
        )
        .select_related("page")
        .order_by("-published_at", "-pk")
        .first()
    )
    languages = _page_languages(list(pages.values()), active.page if active else None)
    default = languages[0]
    written_default = active.degradation_message if active is not None else ""
    messages = {}
    for language in languages:
        if written_default:
            messages[language] = pick(
                active.translations, language, "degradation_message", written_default
            )
        else:
            messages[language] = default_message(worst_state, language)
    return Degradation(
        worst_state,
        messages[default],
        since,
        slugs,
        public,
        bool(written_default),
        messages,
        default,
    )
