"""The verbs of endpoint configuration: create, change and remove model endpoints, subscribers.

Each writes the audit row in its transaction (never the credential: only that it was set or
changed) and re-derives the service's route, since the chain changed.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import audit
from config.errors import Conflict, InvalidInput
from incidents.actors import Actor
from incidents.models import Service
from incidents.outbound import address_allowed
from llm import routing
from llm.models import LlmPolicy, ModelEndpoint, RouteSubscriber

CONFIG_FIELDS = (
    "name", "provider", "base_url", "model", "tier", "credential_env", "price_in_per_1k",
    "price_out_per_1k", "enabled", "slow_call_ms", "slow_rate_threshold",
    "failure_rate_threshold", "window_seconds", "minimum_calls", "open_wait_seconds",
    "half_open_calls", "probe_enabled", "probe_interval_seconds", "probe_timeout_seconds",
    "probe_prompt", "probe_expect",
)  # fmt: skip


def check_outbound_url(url: str, *, what: str = "base_url") -> str:
    """http(s) only; a literal or local address must pass the SSRF guard (allow-list).

    Host names are checked again by the guard on every connection (the address actually
    connected to), so a name that resolves to a private address is refused then.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} must be an http:// or https:// URL with a host")
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return url
    if not address_allowed(host):
        raise InvalidInput(
            f"{what} {parts.hostname} is a private, loopback or link-local address; Vigil may "
            "call it only when PROBE_ALLOWED_NETWORKS names it (local model servers)"
        )
    return url


def _audit(action: str, *, actor: Actor, service: Service, target: str, data: dict) -> None:
    audit.record(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=service.team,
        target=target,
        data=data,
    )


def _full_clean(endpoint: ModelEndpoint) -> None:
    try:
        endpoint.full_clean(exclude=["service"], validate_unique=False)
    except ValidationError as exc:
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise InvalidInput(f"invalid model endpoint: {fields}") from None


def _save(endpoint: ModelEndpoint, **kwargs) -> None:
    try:
        with transaction.atomic():
            endpoint.save(**kwargs)
    except IntegrityError:
        raise Conflict(
            f"service {endpoint.service.slug} already has an endpoint named {endpoint.name!r}"
        ) from None


def create_endpoint(
    *, service: Service, actor: Actor, credential: str = "", **fields
) -> ModelEndpoint:
    unknown = set(fields) - set(CONFIG_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown endpoint field(s): {', '.join(sorted(unknown))}")
    check_outbound_url(fields.get("base_url", ""))
    with transaction.atomic():
        endpoint = ModelEndpoint(service=service, **fields)
        if credential:
            endpoint.set_credential(credential)
        _full_clean(endpoint)
        _save(endpoint)
        LlmPolicy.objects.get_or_create(service=service)
        _audit(
            "llm.endpoint_created",
            actor=actor,
            service=service,
            target=f"{service.slug}/{endpoint.name}",
            data={"tier": endpoint.tier, "provider": endpoint.provider,
                  "credential": "set" if credential else ("env" if endpoint.credential_env else "none")},
        )  # fmt: skip
        routing.recompute_route(service_id=service.pk, reason=f"endpoint {endpoint.name} added")
    return endpoint


def update_endpoint(
    *, endpoint: ModelEndpoint, actor: Actor, credential: str | None = None, **changes
) -> ModelEndpoint:
    unknown = set(changes) - set(CONFIG_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown endpoint field(s): {', '.join(sorted(unknown))}")
    if "base_url" in changes:
        check_outbound_url(changes["base_url"])
    with transaction.atomic():
        endpoint = (
            ModelEndpoint.objects.select_for_update().select_related("service").get(pk=endpoint.pk)
        )
        changed = [k for k, v in changes.items() if getattr(endpoint, k) != v]
        for key in changed:
            setattr(endpoint, key, changes[key])
        if credential is not None:
            endpoint.set_credential(credential)
            if credential:
                endpoint.credential_env = ""
            changed += ["credential_encrypted", "credential_env"]
        elif changes.get("credential_env"):
            endpoint.credential_encrypted = ""
            changed.append("credential_encrypted")
        if not changed:
            return endpoint
        _full_clean(endpoint)
        _save(endpoint, update_fields=sorted(set(changed)))
        shown = sorted({"credential" if k.startswith("credential") else k for k in changed})
        _audit(
            "llm.endpoint_updated",
            actor=actor,
            service=endpoint.service,
            target=f"{endpoint.service.slug}/{endpoint.name}",
            data={"changed": shown},
        )
        routing.recompute_route(
            service_id=endpoint.service_id, reason=f"endpoint {endpoint.name} changed"
        )
    return endpoint


def delete_endpoint(*, endpoint: ModelEndpoint, actor: Actor) -> None:
    with transaction.atomic():
        service = endpoint.service
        name = endpoint.name
        endpoint.delete()
        _audit(
            "llm.endpoint_deleted",
            actor=actor,
            service=service,
            target=f"{service.slug}/{name}",
            data={},
        )
        routing.recompute_route(service_id=service.pk, reason=f"endpoint {name} removed")


def add_route_subscriber(
    *, service: Service, url: str, actor: Actor
) -> tuple[RouteSubscriber, str]:
    """A webhook subscriber; returns it with its signing secret (shown once)."""
    check_outbound_url(url, what="url")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        subscriber = RouteSubscriber.objects.create(service=service, url=url, secret=secret)
        _audit(
            "llm.route_subscriber_added",
            actor=actor,
            service=service,
            target=url[:200],
            data={},
        )
    return subscriber, secret


def update_policy(*, service: Service, actor: Actor, **changes) -> LlmPolicy:
    allowed = {"degradation_message", "daily_budget", "budget_warning_percent", "anomaly_detection"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"unknown policy field(s): {', '.join(sorted(unknown))}")
    with transaction.atomic():
        policy, _ = LlmPolicy.objects.select_for_update().get_or_create(service=service)
        for key, value in changes.items():
            setattr(policy, key, value)
        try:
            policy.full_clean(exclude=["service"])
        except ValidationError as exc:
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise InvalidInput(f"invalid policy: {fields}") from None
        policy.save()
        _audit(
            "llm.policy_updated",
            actor=actor,
            service=service,
            target=service.slug,
            data={"changed": sorted(changes)},
        )
    routing.forget_route(service.slug)
    return policy
