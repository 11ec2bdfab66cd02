"""The verbs of setting monitors up: create, change, pause, resume and delete probes and
heartbeats; run one check now; switch a service's monitors off when it is archived.

Keyword-only, one transaction each, the row locked when it changes, one audit row per act
(``probe.created``, ``probe.updated``, ``probe.paused``, ``probe.resumed``, ``probe.deleted``,
``heartbeat.*`` likewise). Field rules are the model's own (validators + ``clean``), the same the
API applies; ``outbound_problem`` adds the SSRF guard's verdict on the URL at the edge.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import record as audit
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from incidents.models import Service
from incidents.outbound import address_allowed
from monitoring import services
from monitoring.models import Heartbeat, Probe, ProbeState

PROBE_FIELDS = (
    "name", "method", "url", "headers", "body", "expected_status", "expected_text",
    "expected_json_path", "expected_json_value", "timeout_seconds", "interval_seconds",
    "latency_threshold_ms", "failures_to_open", "successes_to_recover", "severity_down",
    "severity_degraded",
)  # fmt: skip
HEARTBEAT_FIELDS = ("name", "period_seconds", "grace_seconds", "severity")
RESOLVE_SECONDS = 2.0
_resolver = ThreadPoolExecutor(max_workers=2, thread_name_prefix="probe-url-check")


def outbound_problem(url: str) -> str | None:
    """What the SSRF guard would say about this URL, or None if it would let it through.

    The engine checks the address it actually connects to on every run; this is the early
    warning shown next to the URL field. A name that does not resolve in time is let through
    (the run will report it).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "probes call http:// or https:// URLs only"
    host = (parts.hostname or "").strip("[]")
    if not host:
        return "the URL has no host"
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            infos = _resolver.submit(socket.getaddrinfo, host, None).result(RESOLVE_SECONDS)
        except (OSError, FutureTimeout):
            return None
        addresses = sorted({info[4][0] for info in infos})
    blocked = [a for a in addresses if not address_allowed(a)]
    if blocked and len(blocked) == len(addresses):
        return (
            f"refused by the SSRF guard: {host} is {', '.join(blocked)}, a private, loopback or "
            "link-local address. An administrator can allow such networks with "
            "PROBE_ALLOWED_NETWORKS."
        )
    return None


def _full_clean(instance, *, exclude: tuple[str, ...] = ()) -> None:
    try:
        instance.full_clean(exclude=["service", *exclude], validate_unique=False)
    except ValidationError as exc:
        raise InvalidInput(
            "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        ) from None


def _audit(action: str, *, actor: Actor, service: Service, target: str, data=None) -> None:
    audit(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=service.team,
        target=target,
        data=data or {},
    )


def _refuse_archived(service: Service, what: str) -> None:
    if service.archived_at is not None:
        raise Conflict(f"cannot {what}: service {service.name} is archived; restore it first")


def _name_taken(model, service: Service, name: str, exclude: int | None) -> None:
    others = model.objects.filter(service=service, name=name)
    if exclude:
        others = others.exclude(pk=exclude)
    if others.exists():
        raise Conflict(f"name: {service.name} already has a {model._meta.verbose_name} {name!r}")


# --- probes -------------------------------------------------------------------------------


def create_probe(*, service: Service, actor: Actor, values: dict) -> Probe:
    _refuse_archived(service, "add a probe")
    probe = Probe(service=service, **{k: v for k, v in values.items() if k in PROBE_FIELDS})
    _full_clean(probe)
    problem = outbound_problem(probe.url)
    if problem:
        raise InvalidInput(f"url: {problem}")
    _name_taken(Probe, service, probe.name, None)
    try:
        with transaction.atomic():
            probe.next_due_at = timezone.now()
            probe.save()
            _audit("probe.created", actor=actor, service=service, target=f"probe:{probe.pk}",
                   data={"name": probe.name, "url": probe.url})  # fmt: skip
    except IntegrityError:
        raise Conflict(f"name: {service.name} already has a probe {probe.name!r}") from None
    return probe


def update_probe(*, probe: Probe, actor: Actor, values: dict, version: str | None = None) -> Probe:
    try:
        with transaction.atomic():
            probe = (
                Probe.objects.select_for_update().select_related("service__team").get(pk=probe.pk)
            )
            refuse_if_stale(probe, PROBE_FIELDS, version, what=f"probe {probe.name!r}")
            changed = [k for k in PROBE_FIELDS if k in values and getattr(probe, k) != values[k]]
            if not changed:
                return probe
            for name in changed:
                setattr(probe, name, values[name])
            _full_clean(probe)
            if "url" in changed:
                problem = outbound_problem(probe.url)
                if problem:
                    raise InvalidInput(f"url: {problem}")
            _name_taken(Probe, probe.service, probe.name, probe.pk)
            probe.save(update_fields=changed)
            _audit("probe.updated", actor=actor, service=probe.service,
                   target=f"probe:{probe.pk}", data={"changed": changed})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another probe took this name a moment ago") from None
    return probe


def pause_probe(*, probe: Probe, actor: Actor) -> Probe:
    with transaction.atomic():
        if probe.paused:
            raise Conflict(f"cannot pause probe {probe.name}: it is already paused")
        # monitoring.services writes the timeline note and the audit row (probe.paused).
        return services.pause_probe(probe=probe, actor=actor)


def resume_probe(*, probe: Probe, actor: Actor) -> Probe:
    service = Service.objects.select_related("team").get(pk=probe.service_id)
    _refuse_archived(service, f"resume probe {probe.name}")
    with transaction.atomic():
        if not probe.paused:
            raise Conflict(f"cannot resume probe {probe.name}: it is not paused")
        return services.resume_probe(probe=probe, actor=actor)


def delete_probe(*, probe: Probe, actor: Actor) -> None:
    """Delete the probe and its results. Its open incident, if any, stays open: people decide."""
    with transaction.atomic():
        probe = Probe.objects.select_for_update().select_related("service__team").get(pk=probe.pk)
        _audit("probe.deleted", actor=actor, service=probe.service, target=f"probe:{probe.pk}",
               data={"name": probe.name, "url": probe.url})  # fmt: skip
        probe.delete()


def check_probe_now(*, probe: Probe):
    """Run one check of the probe as saved and return its Outcome. Nothing is recorded: the
    statistics and the state machine see only scheduled runs."""
    from monitoring.checks import ProbeSpec, run_specs

    spec = ProbeSpec(*[getattr(probe, name) for name in ProbeSpec.FIELDS])
    outcomes = run_specs([spec])
    return outcomes[0]


# --- heartbeats ---------------------------------------------------------------------------


def create_heartbeat(*, service: Service, actor: Actor, values: dict) -> Heartbeat:
    _refuse_archived(service, "add a heartbeat")
    heartbeat = Heartbeat(
        service=service, **{k: v for k, v in values.items() if k in HEARTBEAT_FIELDS}
    )
    _full_clean(heartbeat)
    _name_taken(Heartbeat, service, heartbeat.name, None)
    try:
        with transaction.atomic():
            heartbeat.save()
            _audit("heartbeat.created", actor=actor, service=service,
                   target=f"heartbeat:{heartbeat.pk}", data={"name": heartbeat.name})  # fmt: skip
    except IntegrityError:
        raise Conflict(f"name: {service.name} already has a heartbeat {heartbeat.name!r}") from None
    return heartbeat


def update_heartbeat(
    *, heartbeat: Heartbeat, actor: Actor, values: dict, version: str | None = None
) -> Heartbeat:
    try:
        with transaction.atomic():
            heartbeat = (
                Heartbeat.objects.select_for_update(of=("self",))
                .select_related("service__team")
                .get(pk=heartbeat.pk)
            )
            refuse_if_stale(
                heartbeat, HEARTBEAT_FIELDS, version, what=f"heartbeat {heartbeat.name!r}"
            )
            changed = [
                k for k in HEARTBEAT_FIELDS if k in values and getattr(heartbeat, k) != values[k]
            ]
            if not changed:
                return heartbeat
            for name in changed:
                setattr(heartbeat, name, values[name])
            _full_clean(heartbeat)
            _name_taken(Heartbeat, heartbeat.service, heartbeat.name, heartbeat.pk)
            if (
                heartbeat.state == ProbeState.UP
                and heartbeat.last_ping_at
                and ("period_seconds" in changed or "grace_seconds" in changed)
            ):
                # The next deadline follows the new schedule from the last ping.
                heartbeat.alert_after = heartbeat.last_ping_at + timezone.timedelta(
                    seconds=heartbeat.period_seconds + heartbeat.grace_seconds
                )
                changed.append("alert_after")
            heartbeat.save(update_fields=changed)
            _audit("heartbeat.updated", actor=actor, service=heartbeat.service,
                   target=f"heartbeat:{heartbeat.pk}",
                   data={"changed": [c for c in changed if c != "alert_after"]})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another heartbeat took this name a moment ago") from None
    return heartbeat


def pause_heartbeat(*, heartbeat: Heartbeat, actor: Actor) -> Heartbeat:
    with transaction.atomic():
        if heartbeat.state == ProbeState.PAUSED:
            raise Conflict(f"cannot pause heartbeat {heartbeat.name}: it is already paused")
        return services.pause_heartbeat(heartbeat=heartbeat, actor=actor)


@transaction.atomic
def resume_heartbeat(*, heartbeat: Heartbeat, actor: Actor) -> Heartbeat:
    """Back to new: watched again from its next ping (a ping also resumes it, as healthchecks)."""
    heartbeat = (
        Heartbeat.objects.select_for_update(of=("self",))
        .select_related("service__team")
        .get(pk=heartbeat.pk)
    )
    _refuse_archived(heartbeat.service, f"resume heartbeat {heartbeat.name}")
    if heartbeat.state != ProbeState.PAUSED:
        raise Conflict(f"cannot resume heartbeat {heartbeat.name}: it is not paused")
    heartbeat.state = ProbeState.NEW
    heartbeat.alert_after = None
    heartbeat.state_changed_at = timezone.now()
    heartbeat.save(update_fields=["state", "alert_after", "state_changed_at"])
    _audit("heartbeat.resumed", actor=actor, service=heartbeat.service,
           target=f"heartbeat:{heartbeat.pk}")  # fmt: skip
    return heartbeat


def delete_heartbeat(*, heartbeat: Heartbeat, actor: Actor) -> None:
    with transaction.atomic():
        heartbeat = (
            Heartbeat.objects.select_for_update(of=("self",))
            .select_related("service__team")
            .get(pk=heartbeat.pk)
        )
        _audit("heartbeat.deleted", actor=actor, service=heartbeat.service,
               target=f"heartbeat:{heartbeat.pk}", data={"name": heartbeat.name})  # fmt: skip
        heartbeat.delete()


# --- archive hook -------------------------------------------------------------------------


def pause_monitors_of_service(*, service: Service, actor: Actor) -> None:
    """incidents.catalog calls this inside the archiving transaction."""
    now = timezone.now()
    Probe.objects.filter(service=service, paused=False).update(
        paused=True, state=ProbeState.PAUSED, consecutive_failures=0, consecutive_slow=0,
        consecutive_successes=0, state_changed_at=now,
    )  # fmt: skip
    Heartbeat.objects.filter(service=service).exclude(state=ProbeState.PAUSED).update(
        state=ProbeState.PAUSED, alert_after=None, state_changed_at=now
    )
