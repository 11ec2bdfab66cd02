"""The route and telemetry for a token this web process already checked: no DRF, one cache trip.

Avatars poll ``GET /api/v1/services/<slug>/route`` and post telemetry all the time with the same
token. The full API stack (DRF, the token's row and its user, the throttle's pipeline, the
cached route) cost several times the work of the answer. Here:

- After the full stack authenticated a Bearer token and answered, the process remembers it,
  keyed by the SHA-256 of the token (never the token itself): its row and user ids, read-only
  flag and expiry, stamped with the **access generation** read *before* that answer.
- The access generation is one counter in the cache, bumped after commit whenever a token,
  user, membership, team, service or model endpoint is saved or deleted (``llm.apps``). A
  request on the fast path reads it in the same round trip as the throttle counter and the
  route (on Redis: one Lua script); when it moved, the process forgets everything it
  remembered and the request takes the full stack. So a revoked token, a deactivated user or a
  removed membership stops working on the request after the commit. A change that bypasses
  model signals (``QuerySet.update``) takes effect after at most
  ``LLM_ROUTE_ACCESS_CACHE_SECONDS`` (default 5 s), when the process asks again anyway.
- Whatever the fast path cannot answer with certainty (an unknown token, a miss in the access
  map or the cache, the cache down, a read-only token posting, the throttle's limit, an
  ``Accept`` or query string it does not serve, any error) goes to the full stack, which
  decides and answers in the API's usual shape. The fast path only ever answers 200, 202
  or 304.

The throttle is the API's own counter (``config.api.TokenRateThrottle``: per user, fixed
window, ``API_THROTTLE_RATE``); a request counted here is not counted again by the full stack.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse

from accounts import tokens
from accounts.models import ApiToken
from accounts.permissions import Action
from config import safejson
from config.api import parse_rate
from config.ratelimit import count_hit, redis_client
from llm import access, routing

log = logging.getLogger(__name__)

GENERATION_KEY = "llm:access-generation"
ROUTE_KEY = "llm:route-answer:{slug}"
MAX_TOKENS = 10_000
ALLOW = "GET, HEAD, OPTIONS"
_ACCEPTED = ("application/json", "*/*", "application/*")


@dataclass
class Known:
    token: ApiToken  # pk, last_used_at and read_only only; its user is never used from here
    user_id: int
    expires_at: float | None  # epoch seconds
    generation: object
    until: float  # monotonic: ask the full stack again after this


_known: dict[bytes, Known] = {}
# (user id, slug, action) -> (service id, generation, until)
_access: dict[tuple[int, str, Action], tuple[int, object, float]] = {}
# service id -> (generation, until, telemetry.endpoint_map of the service)
_endpoint_maps: dict[int, tuple[object, float, dict]] = {}
_seen_generation: list = [None]


def forget() -> None:
    """Forget every remembered token, access decision and endpoint of this process."""
    _known.clear()
    _access.clear()
    _endpoint_maps.clear()
    access.forget()


# --- the cache: Redis (one Lua round trip) or any Django cache ----------------------------

# KEYS: the generation, the route answer (or the generation again), then the throttle counter
# if throttling is on. EXPIRE ... NX as config.ratelimit.count_hit (Redis 7).
_READ = """
local found = redis.call('MGET', KEYS[1], KEYS[2])
local count = false
if #KEYS > 2 then
  count = redis.call('INCRBY', KEYS[3], 1)
  redis.call('EXPIRE', KEYS[3], ARGV[1], 'NX')
end
return {found[1], found[2], count}
"""
_scripts: dict[int, object] = {}
_full_keys: dict[tuple, str] = {}


def _full(key: str) -> str:
    """The cache's own name for ``key`` (prefix and version), as ``cache.get(key)`` uses."""
    cached = (cache.key_prefix, cache.version, key)
    full = _full_keys.get(cached)
    if full is None:
        if len(_full_keys) > MAX_TOKENS:
            _full_keys.clear()
        full = _full_keys[cached] = cache.make_and_validate_key(key)
    return full


def _redis():
    client = redis_client()
    if client is None:
        return None, None
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_READ)
    return client, script


def read(
    route_key: str | None, throttle_key: str | None, ttl: int
) -> tuple[object, bytes | None, int | None]:
    """``(generation, route answer or None, throttle count or None)`` in one round trip on
    Redis. Raises on a cache failure (the caller takes the full stack)."""
    client, script = _redis()
    if client is not None:
        keys = [_full(GENERATION_KEY), _full(route_key or GENERATION_KEY)]
        if throttle_key:
            keys.append(_full(throttle_key))
        generation, answer, count = script(keys=keys, args=[ttl], client=client)
        return generation, (answer if route_key else None), count
    found = cache.get_many([GENERATION_KEY, route_key] if route_key else [GENERATION_KEY])
    count = count_hit(throttle_key, ttl=ttl) if throttle_key else None
    return found.get(GENERATION_KEY), found.get(route_key), count


def generation() -> object:
    """The current access generation (None before the first bump); raises on cache failure."""
    client = redis_client()
    if client is not None:
        return client.get(_full(GENERATION_KEY))
    return cache.get(GENERATION_KEY)


def _bump() -> None:
    try:
        client = redis_client()
        if client is not None:
            client.incr(_full(GENERATION_KEY))
            return
        cache.add(GENERATION_KEY, 0, None)
        cache.incr(GENERATION_KEY)
    except Exception:  # noqa: BLE001 - remembered entries expire within their time anyway
        log.warning("access generation not bumped; remembered tokens expire on their own",
                    exc_info=True)  # fmt: skip
    finally:
        forget()  # this process at least knows at once


def bump_generation() -> None:
    """Make every process forget its remembered tokens and access: this one at once, the others
    through the cache after the commit (so a request in between cannot remember the state from
    before it)."""
    forget()
    transaction.on_commit(_bump)


def store_route(key: str, answer: bytes, timeout: int) -> None:
    client = redis_client()
    if client is not None:
        client.set(_full(key), answer, ex=timeout)
    else:
        cache.set(key, answer, timeout)


def load_route(key: str) -> bytes | None:
    client = redis_client()
    if client is not None:
        return client.get(_full(key))
    return cache.get(key)


def drop_route(key: str) -> None:
    client = redis_client()
    if client is not None:
        client.delete(_full(key))
    else:
        cache.delete(key)


# --- remembered tokens and access --------------------------------------------------------

_UNKNOWN = object()  # the generation could not be read: remember nothing


def _bearer(request) -> bytes | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() != "bearer ":
        return None
    parts = header.split()
    if len(parts) != 2:
        return None
    return hashlib.sha256(parts[1].encode("utf-8", "surrogateescape")).digest()


def _known_token(key: bytes | None) -> Known | None:
    known = _known.get(key) if key is not None else None
    if known is None:
        return None
    if time.monotonic() >= known.until or (
        known.expires_at is not None and time.time() >= known.expires_at
    ):
        _known.pop(key, None)
        return None
    return known


def _allowed(known: Known, slugs, action: Action) -> dict[str, int] | None:
    """slug -> service id for every slug, if each is remembered as allowed under the token's
    generation; None when any is not (the full stack decides)."""
    now = time.monotonic()
    found = {}
    for slug in slugs:
        entry = _access.get((known.user_id, slug, action))
        if entry is None or entry[1] != known.generation or entry[2] <= now:
            return None
        found[slug] = entry[0]
    return found


def _observe(seen: object) -> None:
    """A generation read from the cache: if it moved, forget what this process remembered."""
    if seen is not _UNKNOWN and seen != _seen_generation[0]:
        forget()
        _seen_generation[0] = seen


def _generation_or_unknown() -> object:
    try:
        seen = generation()
    except Exception:  # noqa: BLE001 - nothing is remembered while the cache is down
        return _UNKNOWN
    _observe(seen)
    return seen


def _remember(key: bytes | None, request, seen: object, slugs, action: Action) -> None:
    """After the full stack answered ``request`` well: remember its token and the services
    it may use, stamped with the generation read before the full stack looked."""
    seconds = settings.LLM_ROUTE_ACCESS_CACHE_SECONDS
    token = getattr(request, "auth", None)
    if key is None or not seconds or seen is _UNKNOWN or not isinstance(token, ApiToken):
        return
    if len(_known) >= MAX_TOKENS or len(_access) >= MAX_TOKENS:
        forget()
    until = time.monotonic() + seconds
    _known[key] = Known(
        token=ApiToken(pk=token.pk, last_used_at=token.last_used_at, read_only=token.read_only),
        user_id=token.user_id,
        expires_at=token.expires_at.timestamp() if token.expires_at else None,
        generation=seen,
        until=until,
    )
    for slug, service in access.services_for(request.user, set(slugs), action).items():
        if service is not None:
            _access[(token.user_id, slug, action)] = (service.pk, seen, until)


def _full_stack(view, request, key, seen, slugs, action, **kwargs):
    if seen is None:
        seen = _generation_or_unknown()
    response = view(request, **kwargs)
    if response.status_code in (200, 202, 304):
        _remember(key, request, seen, slugs, action)
    return response


def _throttle(user_id: int) -> tuple[str | None, int, int]:
    """``(key or None when throttling is off, window ttl, limit)``: TokenRateThrottle's."""
    rate = getattr(settings, "API_THROTTLE_RATE", "")
    if not rate:
        return None, 0, 0
    limit, period = parse_rate(rate)
    window = int(time.time() // period)
    return f"throttle:api:user:{user_id}:{window}", period + 1, limit


def _accepts_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT")
    return not accept or any(kind in accept for kind in _ACCEPTED)


def _common(request, known: Known | None, method: str) -> bool:
    return (
        known is not None
        and request.method == method
        and not request.META.get("QUERY_STRING")
        and _accepts_json(request)
    )


# --- the route ----------------------------------------------------------------------------


def route_key(slug: str) -> str:
    return ROUTE_KEY.format(slug=slug)


def route_response(request, answer: bytes) -> HttpResponse:
    """The stored answer (``etag`` newline ``json``) as 200, or 304 for a matching
    If-None-Match. The DRF view answers the same bytes and headers."""
    etag, _, body = answer.partition(b"\n")
    etag = etag.decode()
    if etag in request.META.get("HTTP_IF_NONE_MATCH", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
        response["Cache-Control"] = "no-cache"
    response["ETag"] = etag
    return response


def serve_route(request, slug: str, *, full, counted) -> HttpResponse:
    """``full``: the DRF view; ``counted``: the same without its throttle (already counted)."""
    key = _bearer(request)
    known = _known_token(key)
    if not _common(request, known, "GET"):
        return _full_stack(full, request, key, None, [slug], Action.VIEW, slug=slug)
    if _allowed(known, [slug], Action.VIEW) is None:
        return _full_stack(full, request, key, None, [slug], Action.VIEW, slug=slug)
    throttle, ttl, limit = _throttle(known.user_id)
    try:
        seen, answer, count = read(route_key(slug), throttle, ttl)
    except Exception:  # noqa: BLE001 - the full stack knows what to do without the cache
        log.warning("cache unavailable; route answered by the full stack", exc_info=True)
        return full(request, slug=slug)
    _observe(seen)
    view = counted if count is not None else full
    if seen != known.generation:
        return _full_stack(view, request, key, seen, [slug], Action.VIEW, slug=slug)
    if count is not None and count > limit:
        return full(request, slug=slug)  # the API's 429 with Retry-After
    if answer is None:
        return _full_stack(view, request, key, seen, [slug], Action.VIEW, slug=slug)
    tokens.note_use(known.token)
    response = route_response(request, answer)
    response["Allow"] = ALLOW
    return response


# --- telemetry ----------------------------------------------------------------------------


def serve_telemetry(request, *, full, counted) -> HttpResponse:
    key = _bearer(request)
    known = _known_token(key)
    events = None
    if (
        _common(request, known, "POST")
        and not known.token.read_only
        and request.content_type == "application/json"
    ):
        events = _events_of(request)
    slugs = _slugs(events) if events is not None else set()
    services = _allowed(known, slugs, Action.RESPOND) if events is not None else None
    if services is None:
        return _full_stack(full, request, key, None, _slugs_in_body(request), Action.RESPOND)
    throttle, ttl, limit = _throttle(known.user_id)
    try:
        seen, _, count = read(None, throttle, ttl)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable; telemetry taken by the full stack", exc_info=True)
        return full(request)
    _observe(seen)
    view = counted if count is not None else full
    if seen != known.generation:
        return _full_stack(view, request, key, seen, slugs, Action.RESPOND)
    if count is not None and count > limit:
        return full(request)
    from llm import telemetry

    accepted, rejected = telemetry.ingest_for(
        service_ids=services, events=events, endpoints=_endpoints(services.values(), seen)
    )
    tokens.note_use(known.token)
    body = routing.render({"accepted": accepted, "rejected": rejected})
    response = HttpResponse(body, content_type="application/json", status=202)
    response["Allow"] = "POST, OPTIONS"
    return response


def _endpoints(service_ids, seen: object) -> dict:
    """telemetry.endpoint_map for the services, remembered per process under the generation
    (renaming, repricing or deleting an endpoint moves it)."""
    from llm import telemetry

    now = time.monotonic()
    found, missing = {}, []
    for service_id in set(service_ids):
        entry = _endpoint_maps.get(service_id)
        if entry is not None and entry[0] == seen and entry[1] > now:
            found.update(entry[2])
        else:
            missing.append(service_id)
    if missing:
        fetched = telemetry.endpoint_map(missing)
        until = now + settings.LLM_ROUTE_ACCESS_CACHE_SECONDS
        for service_id in missing:
            mine = {k: v for k, v in fetched.items() if k[0] == service_id}
            _endpoint_maps[service_id] = (seen, until, mine)
            found.update(mine)
    return found


def _events_of(request) -> list | None:
    """The events of a well-formed body within the limit, else None (the full stack answers)."""
    try:
        body = safejson.loads(request.body)
    except (safejson.InvalidJson, ValueError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    events = body["events"]
    if len(events) > settings.LLM_TELEMETRY_MAX_EVENTS:
        return None
    return events


def _slugs(events: list) -> set[str]:
    slugs = {e.get("service") for e in events if isinstance(e, dict)}
    return {s for s in slugs if isinstance(s, str) and 0 < len(s) <= 64}


def _slugs_in_body(request) -> set[str]:
    try:
        body = safejson.loads(request.body)
    except Exception:  # noqa: BLE001 - anything unreadable remembers no service
        return set()
    events = body.get("events") if isinstance(body, dict) else None
    return _slugs(events[:1000]) if isinstance(events, list) else set()


# --- what moves the generation ------------------------------------------------------------

# A model endpoint's own saves that change nothing the fast path remembers (breaker, probes).
_ENDPOINT_FIELDS = {"name", "service", "service_id", "price_in_per_1k", "price_out_per_1k"}


def _on_change(sender, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_used_at", "last_login"}:
        return  # a token's or user's use, written by the request itself
    bump_generation()


def _on_endpoint_change(sender, update_fields=None, **kwargs) -> None:
    if update_fields is not None and not set(update_fields) & _ENDPOINT_FIELDS:
        return
    bump_generation()


def connect_signals() -> None:
    """Tokens, users, memberships, teams and services (who may do what), model endpoints (what
    telemetry may name): any save or delete moves the access generation."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save

    from accounts.models import Membership, Team
    from incidents.models import Service
    from llm.models import ModelEndpoint

    for model in (ApiToken, get_user_model(), Membership, Team, Service):
        for signal in (post_save, post_delete):
            signal.connect(_on_change, sender=model, dispatch_uid=f"llm-fastpath-{model._meta}")
    for signal in (post_save, post_delete):
        signal.connect(
            _on_endpoint_change, sender=ModelEndpoint, dispatch_uid="llm-fastpath-endpoint"
        )
