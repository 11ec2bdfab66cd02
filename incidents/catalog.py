"""The verbs of the service catalogue: create, change, archive and restore a service; switch an
integration off and on.

Each function is keyword-only, runs in one transaction, locks the row it changes, saves only the
fields that changed and writes one audit row (``service.created``, ``service.updated``,
``service.archived``, ``service.restored``, ``integration.deactivated``,
``integration.reactivated``, ``integration.severity_mapping_changed``). Views and the API check
roles; these check state.

Archiving a service stops it from opening incidents: its integrations are deactivated (their
senders get 404 as for an unknown token), every app that registered an archive hook switches off
its own sources in the same transaction (monitoring pauses probes and heartbeats), and declaring
an incident on it is refused. Restoring brings back the service only: integrations and monitors
stay off until someone turns each on again, on purpose (they were off for a reason).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import record as audit
from accounts.models import Team
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from incidents.ingest.services import forget_cached_integrations
from incidents.models import Integration, Service

SERVICE_FIELDS = ("name", "slug", "description", "rto_minutes", "rpo_minutes",
                  "downtime_cost_per_hour")  # fmt: skip
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_OBJECTIVE_MINUTES = 10 * 366 * 24 * 60  # ten years: beyond that an objective means nothing
MAX_COST = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
MAX_DESCRIPTION = 10_000

ArchiveHook = Callable[..., None]  # (*, service, actor) -> None, inside the transaction
_archive_hooks: dict[str, ArchiveHook] = {}


def register_archive_hook(hook: ArchiveHook) -> None:
    """Apps built on the core switch their own incident sources off when a service is archived.

    Called as ``hook(service=service, actor=actor)`` inside the archiving transaction, so the
    service and its sources change together or not at all. Register in AppConfig.ready().
    """
    _archive_hooks[f"{hook.__module__}.{hook.__qualname__}"] = hook


def _clean(values: dict) -> dict:
    """Normalise and check the editable fields; raises InvalidInput naming the field."""
    out = dict(values)
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            raise InvalidInput("name: a service needs a name")
        if len(out["name"]) > 120:
            raise InvalidInput("name: at most 120 characters")
    if "slug" in out:
        out["slug"] = (out["slug"] or "").strip().lower()
        if not SLUG_RE.match(out["slug"]) or len(out["slug"]) > 64:
            raise InvalidInput(
                "slug: use 1-64 lower-case letters, digits and single hyphens, e.g. chat-avatar"
            )
    if "description" in out:
        out["description"] = (out["description"] or "").replace("\x00", "")
        if len(out["description"]) > MAX_DESCRIPTION:
            raise InvalidInput(f"description: at most {MAX_DESCRIPTION} characters")
    for name in ("rto_minutes", "rpo_minutes"):
        if name in out and out[name] is not None:
            value = out[name]
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= MAX_OBJECTIVE_MINUTES
            ):
                raise InvalidInput(f"{name}: a whole number of minutes, 0-{MAX_OBJECTIVE_MINUTES}")
    if "downtime_cost_per_hour" in out:
        try:
            cost = Decimal(str(out["downtime_cost_per_hour"] or 0))
        except InvalidOperation:
            raise InvalidInput("downtime_cost_per_hour: not a number") from None
        if not cost.is_finite() or not Decimal(0) <= cost <= MAX_COST:
            raise InvalidInput(f"downtime_cost_per_hour: between 0 and {MAX_COST}")
        out["downtime_cost_per_hour"] = cost.quantize(Decimal("0.01"))
    return out


def _uniqueness_problem(*, team_id: int, name: str, slug: str, exclude: int | None) -> str | None:
    others = Service.objects.exclude(pk=exclude) if exclude else Service.objects.all()
    if others.filter(slug=slug).exists():
        return f"slug: {slug!r} is taken (slugs are unique across Vigil)"
    if others.filter(team_id=team_id, name=name).exists():
        return f"name: the team already has a service called {name!r}"
    return None


def create_service(
    *,
    team: Team,
    name: str,
    slug: str,
    actor: Actor,
    description: str = "",
    rto_minutes: int | None = None,
    rpo_minutes: int | None = None,
    downtime_cost_per_hour: Decimal | int | str = 0,
) -> Service:
    values = _clean(
        {
            "name": name,
            "slug": slug,
            "description": description,
            "rto_minutes": rto_minutes,
            "rpo_minutes": rpo_minutes,
            "downtime_cost_per_hour": downtime_cost_per_hour,
        }
    )
    problem = _uniqueness_problem(
        team_id=team.pk, name=values["name"], slug=values["slug"], exclude=None
    )
    if problem:
        raise Conflict(problem)
    try:
        with transaction.atomic():
            service = Service.objects.create(team=team, **values)
            audit(
                action="service.created",
                actor=actor.user_or_none,
                actor_label=actor.label,
                ip=actor.ip,
                team=team,
                target=f"service:{service.slug}",
                data={"name": service.name},
            )
    except IntegrityError:  # a concurrent create took the name or slug between look and insert
        problem = _uniqueness_problem(
            team_id=team.pk, name=values["name"], slug=values["slug"], exclude=None
        )
        raise Conflict(problem or "a service with this name or slug exists") from None
    return service


def update_service(
    *, service: Service, actor: Actor, changes: dict, version: str | None = None
) -> Service:
    """Change some of SERVICE_FIELDS. ``version`` (from the edit form) refuses a stale edit."""
    unknown = set(changes) - set(SERVICE_FIELDS)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))} of a service")
    values = _clean(changes)
    try:
        with transaction.atomic():
            service = Service.objects.select_for_update().select_related("team").get(pk=service.pk)
            refuse_if_stale(service, SERVICE_FIELDS, version, what=f"service {service.name!r}")
            changed = {k: v for k, v in values.items() if getattr(service, k) != v}
            if not changed:
                return service
            problem = _uniqueness_problem(
                team_id=service.team_id,
                name=changed.get("name", service.name),
                slug=changed.get("slug", service.slug),
                exclude=service.pk,
            )
            if problem:
                raise Conflict(problem)
            before = {k: str(getattr(service, k)) for k in changed}
            for name, value in changed.items():
                setattr(service, name, value)
            service.save(update_fields=list(changed))
            audit(
                action="service.updated",
                actor=actor.user_or_none,
                actor_label=actor.label,
                ip=actor.ip,
                team=service.team,
                target=f"service:{service.slug}",
                data={
                    "changed": sorted(changed),
                    # The slug is in every webhook example and board link: keep the old one.
                    **({"old_slug": before["slug"]} if "slug" in changed else {}),
                },
            )
    except IntegrityError:
        raise Conflict("another service took this name or slug a moment ago") from None
    return service


@transaction.atomic
def archive_service(*, service: Service, actor: Actor) -> Service:
    service = Service.objects.select_for_update().select_related("team").get(pk=service.pk)
    if service.archived_at is not None:
        raise Conflict(f"cannot archive {service.name}: it is already archived")
    service.archived_at = timezone.now()
    service.save(update_fields=["archived_at"])
    deactivated = Integration.objects.filter(service=service, is_active=True).update(
        is_active=False
    )
    for _, hook in sorted(_archive_hooks.items()):
        hook(service=service, actor=actor)
    audit(
        action="service.archived",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=service.team,
        target=f"service:{service.slug}",
        data={"integrations_deactivated": deactivated},
    )
    transaction.on_commit(forget_cached_integrations)
    return service


@transaction.atomic
def restore_service(*, service: Service, actor: Actor) -> Service:
    service = Service.objects.select_for_update().select_related("team").get(pk=service.pk)
    if service.archived_at is None:
        raise Conflict(f"cannot restore {service.name}: it is not archived")
    service.archived_at = None
    service.save(update_fields=["archived_at"])
    audit(
        action="service.restored",
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=service.team,
        target=f"service:{service.slug}",
    )
    return service


def _set_integration_active(*, integration: Integration, actor: Actor, active: bool):
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update(of=("self",))
            .select_related("service__team")
            .get(pk=integration.pk)
        )
        verb = "reactivate" if active else "deactivate"
        if integration.is_active == active:
            state = "active" if active else "inactive"
            raise Conflict(f"cannot {verb} {integration.name}: it is already {state}")
        if active and integration.service.archived_at is not None:
            raise Conflict(
                f"cannot reactivate {integration.name}: service {integration.service.name} "
                "is archived; restore the service first"
            )
        integration.is_active = active
        integration.save(update_fields=["is_active"])
        audit(
            action=f"integration.{verb}d",
            actor=actor.user_or_none,
            actor_label=actor.label,
            ip=actor.ip,
            team=integration.service.team,
            target=f"integration:{integration.pk}",
            data={"service": integration.service.slug, "name": integration.name},
        )
        transaction.on_commit(forget_cached_integrations)
    return integration


def deactivate_integration(*, integration: Integration, actor: Actor) -> Integration:
    return _set_integration_active(integration=integration, actor=actor, active=False)


def reactivate_integration(*, integration: Integration, actor: Actor) -> Integration:
    return _set_integration_active(integration=integration, actor=actor, active=True)


# --- severity mapping of an integration ------------------------------------------------------

MAPPING_FIELDS = ("severity_mapping", "default_severity")
MAX_MAPPED_WORDS = 30


def clean_severity_mapping(mapping: dict) -> dict[str, int]:
    """Words (case-insensitive, 1-64 characters) to severities 1-5; refuses anything else."""
    if not isinstance(mapping, dict):
        raise InvalidInput("severity_mapping: an object of word -> severity 1-5")
    if len(mapping) > MAX_MAPPED_WORDS:
        raise InvalidInput(f"severity_mapping: at most {MAX_MAPPED_WORDS} words")
    cleaned: dict[str, int] = {}
    for word, severity in mapping.items():
        key = str(word).strip().lower()
        if not key or len(key) > 64 or "\x00" in key or key in "12345":
            raise InvalidInput(
                f"severity_mapping: {str(word)[:64]!r} is not a word (1-64 characters; the "
                "numbers 1-5 always mean themselves)"
            )
        if isinstance(severity, bool) or not isinstance(severity, int) or not 1 <= severity <= 5:
            raise InvalidInput(f"severity_mapping: {key!r} must map to 1 to 5")
        cleaned[key] = severity
    return cleaned


def set_severity_mapping(
    *,
    integration: Integration,
    mapping: dict,
    default_severity: int,
    actor: Actor,
    version: str | None = None,
) -> Integration:
    """Replace the integration's overrides of the word -> severity map and its severity for
    deliveries that name none (or an unknown word). Deliveries from then on use them; the
    process cache of integrations is dropped after commit (others within
    INGEST_INTEGRATION_CACHE_SECONDS)."""
    mapping = clean_severity_mapping(mapping)
    if isinstance(default_severity, bool) or default_severity not in (1, 2, 3, 4, 5):
        raise InvalidInput("default_severity: 1 to 5")
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update(of=("self",))
            .select_related("service__team")
            .get(pk=integration.pk)
        )
        refuse_if_stale(
            integration, MAPPING_FIELDS, version, what=f"the severities of {integration.name}"
        )
        old_mapping, old_default = (
            dict(integration.severity_mapping or {}),
            integration.default_severity,
        )
        if old_mapping == mapping and old_default == default_severity:
            return integration
        integration.severity_mapping = mapping
        integration.default_severity = default_severity
        integration.save(update_fields=list(MAPPING_FIELDS))
        audit(
            action="integration.severity_mapping_changed",
            actor=actor.user_or_none,
            actor_label=actor.label,
            ip=actor.ip,
            team=integration.service.team,
            target=f"integration:{integration.pk}",
            data={
                "old": old_mapping,
                "new": mapping,
                "old_default": old_default,
                "new_default": default_severity,
            },
        )
        transaction.on_commit(forget_cached_integrations)
    return integration
