"""The active route of a service: the lowest tier whose breaker is closed.

``recompute_route`` is the only writer of RouteState. A change, in one transaction: the new
RouteState (version + 1), one RouteChange row (the route history), one RouteDelivery per active
subscriber (the outbox; sent after commit, re-sent by a sweep), the route incident opened,
rescaled or resolved with severity by depth (settings.LLM_ROUTE_SEVERITY), and exactly one
``route_changed`` timeline entry on that incident. The cached answer of
``GET /api/v1/services/<slug>/route`` is dropped after commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident, Service, Source
from llm.models import (
    BreakerState,
    LlmPolicy,
    ModelEndpoint,
    RouteChange,
    RouteDelivery,
    RouteState,
    RouteSubscriber,
)

log = logging.getLogger(__name__)

ROUTE_DEDUP_KEY = "llm-route"
ACTOR = Actor.system("model failover")
DEFAULT_DEGRADATION = LlmPolicy._meta.get_field("degradation_message").default


def parse_severity_setting(text: str) -> tuple[dict[int, int], int]:
    """ "2:2,3:3,none:5" -> ({2: 2, 3: 3}, 5). Raises ValueError naming the bad part."""
    by_tier: dict[int, int] = {}
    none = 5
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        key, _, value = part.partition(":")
        try:
            severity = int(value)
        except ValueError:
            raise ValueError(f"LLM_ROUTE_SEVERITY: {part!r} is not tier:severity") from None
        if not 1 <= severity <= 5:
            raise ValueError(f"LLM_ROUTE_SEVERITY: severity in {part!r} must be 1 to 5")
        if key == "none":
            none = severity
        elif key.isdigit() and int(key) >= 2:
            by_tier[int(key)] = severity
        else:
            raise ValueError(f"LLM_ROUTE_SEVERITY: {key!r} is not a tier >= 2 or 'none'")
    return by_tier, none


def severity_for(tier: int | None) -> int | None:
    """Incident severity for a route on ``tier`` (None: no tier left); None for tier 1."""
    by_tier, none = parse_severity_setting(settings.LLM_ROUTE_SEVERITY)
    if tier is None:
        return none
    if tier <= 1:
        return None
    if tier in by_tier:
        return by_tier[tier]
    lower = [t for t in by_tier if t < tier]
    return by_tier[max(lower)] if lower else min(tier, 5)


def degradation_message(service: Service, language: str | None = None) -> str:
    """What the avatar says when no tier is available, in ``language`` where the status
    pages speak it (else in their default language).

    The words people wrote for this incident on the status page come first (the active public
    update or its template: the same sentence ``/degradation`` answers); then the service's own
    failover text; then the default. llm sits above statuspage, so it may ask it.
    """
    return degradation_messages(service, language)[0]


def degradation_messages(service: Service, language: str | None = None) -> tuple[str, dict]:
    """The message (as ``degradation_message``) and, when people wrote it on a status page,
    the same words in every language of the pages (``{}`` otherwise)."""
    from statuspage.degradation import current

    shown = current(service)
    if shown.degraded and shown.written:
        return shown.message_in(language), dict(shown.messages)
    policy = LlmPolicy.objects.filter(service=service).only("degradation_message").first()
    return (policy.degradation_message if policy else "") or DEFAULT_DEGRADATION, {}


def _endpoint_json(endpoint: ModelEndpoint) -> dict:
    return {
        "name": endpoint.name,
        "provider": endpoint.provider,
        "model": endpoint.model,
        "base_url": endpoint.base_url,
        "tier": endpoint.tier,
        "slow_call_ms": endpoint.slow_call_ms,
    }


def _chain(service: Service) -> list[ModelEndpoint]:
    return list(
        ModelEndpoint.objects.filter(service=service, enabled=True).order_by("tier", "name", "pk")
    )


def _choose(chain: list[ModelEndpoint]) -> ModelEndpoint | None:
    return next((e for e in chain if e.breaker_state == BreakerState.CLOSED), None)


def build_route(service: Service, state: RouteState | None = None) -> dict:
    """The route answer: the active tier, and the other closed tiers to try within a call."""
    state = state or RouteState.objects.filter(service=service).first()
    chain = _chain(service)
    active = state.endpoint if state and state.endpoint_id else None
    payload = {
        "service": service.slug,
        "tier": state.tier if state else None,
        "endpoint": _endpoint_json(active) if active else None,
        "since": state.since.isoformat() if state else None,
        "reason": state.reason if state else "no model endpoints configured",
        # Tiers after the active one whose breaker is closed: where a client retries in-call.
        "fallbacks": [
            _endpoint_json(e)
            for e in chain
            if e.breaker_state == BreakerState.CLOSED
            and (active is None or (e.pk != active.pk and e.tier >= active.tier))
        ],
    }
    if active is None:
        message, messages = degradation_messages(service)
        payload["degradation"] = {"message": message, "messages": messages}
    return payload


def forget_route(slug: str) -> None:
    from llm import fastpath

    try:
        fastpath.drop_route(fastpath.route_key(slug))
    except Exception:  # noqa: BLE001 - the entry expires anyway
        log.warning("route cache unavailable; %s expires on its own", slug, exc_info=True)


def render(payload: dict) -> bytes:
    """The JSON bytes DRF's JSONRenderer would write for ``payload``."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def route_answer(service: Service) -> bytes:
    """The route answer as stored in the cache: ``etag``, a newline, the JSON body. Built from
    PostgreSQL on a miss. The ETag hashes the canonical (sorted) JSON of the payload."""
    from llm import fastpath

    key = fastpath.route_key(service.slug)
    try:
        hit = fastpath.load_route(key)
    except Exception:  # noqa: BLE001 - serve from the database when the cache is down
        hit = None
    if hit is not None:
        return hit
    payload = build_route(service)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
    answer = etag.encode() + b"\n" + render(payload)
    try:
        fastpath.store_route(key, answer, settings.LLM_ROUTE_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        log.warning("route cache unavailable", exc_info=True)
    return answer


def cached_route(service: Service) -> tuple[dict, str]:
    """``(payload, etag)`` of the route answer."""
    etag, _, body = route_answer(service).partition(b"\n")
    return json.loads(body), etag.decode()


def _route_incident(service: Service) -> Incident | None:
    return Incident.objects.open().filter(service=service, dedup_key=ROUTE_DEDUP_KEY).first()


def _describe(tier: int | None, endpoint: ModelEndpoint | None) -> str:
    return f"tier {tier} ({endpoint.name}, {endpoint.model})" if endpoint else "no tier"


def _apply_incident(
    *, service: Service, change: RouteChange, new_tier: int | None, message: str, configured: bool
) -> Incident | None:
    """Open, rescale or resolve the route incident. With no endpoint left configured the
    service no longer uses failover: an open incident is resolved, none is opened."""
    severity = severity_for(new_tier) if configured else None
    incident = _route_incident(service)
    data = {"from_tier": change.from_tier, "to_tier": new_tier, "reason": change.reason}
    if severity is None:
        if incident is None:
            return None
        incident_services.record(
            incident=incident, kind="route_changed", actor=ACTOR, message=message, data=data
        )
        note = (
            f"tier 1 is serving again: {change.reason}"
            if configured
            else f"no model endpoint is configured any more: {change.reason}"
        )
        return incident_services.resolve(incident=incident, actor=ACTOR, note=note)
    if incident is None:
        title = (
            f"{service.name}: no model tier left, avatar degraded"
            if new_tier is None
            else f"{service.name}: model failover to tier {new_tier}"
        )
        incident, _ = incident_services.open_incident(
            service=service,
            title=title,
            severity=severity,
            actor=ACTOR,
            summary=message,
            dedup_key=ROUTE_DEDUP_KEY,
            source=Source.SYSTEM,
            data=data,
        )
    elif incident.severity != severity:
        incident = incident_services.change_severity(
            incident=incident, severity=severity, actor=ACTOR, reason=message
        )
    incident_services.record(
        incident=incident, kind="route_changed", actor=ACTOR, message=message, data=data
    )
    return incident


def recompute_route(
    *, service_id: int, reason: str, now: datetime | None = None
) -> RouteChange | None:
    """Re-derive the service's route from its breakers; record and announce a change.

    Idempotent: when the route is what it was, nothing is written (returns None). Concurrent
    callers serialise on the RouteState row lock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        service = Service.objects.get(pk=service_id)
        state, _ = RouteState.objects.get_or_create(
            service=service,
            defaults={"tier": None, "endpoint": None, "since": now, "reason": "", "version": 0},
        )
        state = RouteState.objects.select_for_update().get(pk=state.pk)
        chain = _chain(service)
        if not chain and state.version == 0:
            state.delete()  # never had a route and still has no endpoint: nothing to say
            return None
        best = _choose(chain)
        new_tier = best.tier if best else None
        if (
            state.version > 0
            and state.tier == new_tier
            and state.endpoint_id == (best.pk if best else None)
        ):
            return None
        old_endpoint = state.endpoint
        from_tier = state.tier if state.version > 0 else None
        message = (
            f"Route moved from {_describe(from_tier, old_endpoint)} to "
            f"{_describe(new_tier, best)}: {reason}"
        )
        state.tier = new_tier
        state.endpoint = best
        state.since = now
        state.reason = reason[:500]
        state.version += 1
        state.save(update_fields=["tier", "endpoint", "since", "reason", "version"])
        payload = {"event": "route.changed", **build_route(service, state)}
        payload["previous_tier"] = from_tier
        change = RouteChange.objects.create(
            service=service,
            at=now,
            from_tier=from_tier,
            to_tier=new_tier,
            from_endpoint=old_endpoint.name if old_endpoint else "",
            to_endpoint=best.name if best else "",
            reason=reason[:500],
            payload=payload,
        )
        incident = _apply_incident(
            service=service,
            change=change,
            new_tier=new_tier,
            message=message[:2000],
            configured=bool(chain),
        )
        if incident is not None:
            change.incident = incident
            change.save(update_fields=["incident"])
        subscribers = list(
            RouteSubscriber.objects.filter(service=service, active=True).values_list(
                "pk", flat=True
            )
        )
        RouteDelivery.objects.bulk_create(
            [
                RouteDelivery(change=change, subscriber_id=s, next_attempt_at=now)
                for s in subscribers
            ]
        )
        slug = service.slug
        transaction.on_commit(lambda: forget_route(slug))
        if subscribers:
            change_id = change.pk
            transaction.on_commit(lambda: _enqueue_deliveries(change_id), robust=True)
        return change


def _enqueue_deliveries(change_id: int) -> None:
    from llm import webhooks

    webhooks.enqueue_change(change_id)
