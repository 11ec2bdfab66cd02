"""The verbs of monitoring: state changes of probes and heartbeats, and the incidents they cause.

Incidents are opened and resolved only when a state actually changes (one incident per outage,
never one per failed run), always with dedup_key ``probe:<id>`` / ``heartbeat:<id>`` so the
partial unique index in the incident core keeps it to one even under races.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts import audit
from incidents import services as incident_services
from incidents import suppression
from incidents.actors import Actor
from incidents.models import Incident, Source
from monitoring import injection
from monitoring.models import Heartbeat, Probe, ProbeState


def _open_incident_for(incident_for: Probe | Heartbeat) -> Incident | None:
    return (
        Incident.objects.open()
        .filter(service_id=incident_for.service_id, dedup_key=incident_for.dedup_key)
        .first()
    )


def _target(probe: Probe) -> str:
    return f"{probe.method} {probe.url}"


def _checks(n: int) -> str:
    return f"{n} check" if n == 1 else f"{n} checks"


def _down_summary(probe: Probe, outcome) -> str:
    return (
        f"{_target(probe)} failed {_checks(probe.consecutive_failures)} in a row "
        f"(threshold {probe.failures_to_open}). Last check: {outcome.describe()}."
    )


def _slow_summary(probe: Probe, outcome) -> str:
    return (
        f"{_target(probe)} answered slowly {_checks(probe.consecutive_slow)} in a row: "
        f"{outcome.latency_ms} ms against a threshold of {probe.latency_threshold_ms} ms "
        f"(HTTP {outcome.status_code})."
    )


def _details(probe: Probe, outcome) -> dict:
    return {
        "probe_id": probe.pk,
        "url": probe.url,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
        "message": outcome.message,
    }


def _silenced(target: Probe | Heartbeat, *, title: str, severity: int, summary: str) -> bool:
    """Does a silence (a maintenance window) keep this new incident from opening?"""
    if _open_incident_for(target) is not None:
        return False  # already open before the silence: it carries on as usual
    opening = suppression.Opening(
        service=target.service, source=Source.PROBE, dedup_key=target.dedup_key, title=title,
        severity=severity, summary=summary, actor_label=target.name,
    )  # fmt: skip
    return suppression.suppressed(opening)


def _open_or_rescale(*, probe, title, severity, summary, reason, outcome) -> Incident | None:
    actor = Actor.probe(probe.name)
    if _silenced(probe, title=title, severity=severity, summary=summary):
        return None  # maintenance: recorded by the silencer, opened when it ends
    incident, created = incident_services.open_incident(
        service=probe.service,
        title=title,
        severity=severity,
        actor=actor,
        summary=summary,
        dedup_key=probe.dedup_key,
        source=Source.PROBE,
        is_drill=getattr(outcome, "drill", False),
        data=_details(probe, outcome),
    )
    if not created and incident.severity != severity:
        # The same outage got worse (degraded -> down) or better (down -> degraded).
        incident = incident_services.change_severity(
            incident=incident, severity=severity, actor=actor, reason=reason
        )
    return incident


def transition_touches_incident(*, old_state: str, new_state: str) -> bool:
    """Does this change of state open, rescale or resolve an incident? (new -> up does not.)"""
    if new_state in (ProbeState.DOWN, ProbeState.DEGRADED):
        return True
    return new_state == ProbeState.UP and old_state in (ProbeState.DOWN, ProbeState.DEGRADED)


def apply_probe_transition(*, probe: Probe, old_state: str, outcome) -> Incident | None:
    """Open, rescale or resolve the probe's incident after its state changed to ``probe.state``.

    Called by the engine inside the transaction that stored the new state, so the state and its
    incident commit together.
    """
    new_state = probe.state
    if new_state == ProbeState.DOWN:
        summary = _down_summary(probe, outcome)
        return _open_or_rescale(
            probe=probe,
            title=f"{probe.name} is down",
            severity=probe.severity_down,
            summary=summary,
            reason=summary,
            outcome=outcome,
        )
    if new_state == ProbeState.DEGRADED:
        summary = _slow_summary(probe, outcome)
        reason = (
            summary if old_state != ProbeState.DOWN else f"answering again, but slowly: {summary}"
        )
        return _open_or_rescale(
            probe=probe,
            title=f"{probe.name} is slow",
            severity=probe.severity_degraded,
            summary=summary,
            reason=reason,
            outcome=outcome,
        )
    if new_state == ProbeState.UP and old_state in (ProbeState.DOWN, ProbeState.DEGRADED):
        incident = _open_incident_for(probe)
        if incident is None:  # someone resolved it by hand meanwhile (or it was silenced)
            suppression.cleared(service_id=probe.service_id, dedup_key=probe.dedup_key)
            return None
        return incident_services.resolve(
            incident=incident,
            actor=Actor.probe(probe.name),
            note=(
                f"recovered automatically: {_checks(probe.consecutive_successes)} good in a row "
                f"(last: {outcome.describe()})"
            ),
        )
    return None


def _note_pause(monitor: Probe | Heartbeat, *, what: str, verb: str, actor: Actor) -> None:
    """Pausing or resuming a monitor is an audited act; the responders of every incident open
    on its service see it in their timeline too (a silenced watcher matters during an outage:
    a paused monitor neither opens nor resolves incidents)."""
    label = f"{what} “{monitor.name}”"
    for incident in Incident.objects.open().filter(service_id=monitor.service_id)[:20]:
        incident_services.record(
            incident=incident,
            kind=f"monitor_{verb}",
            actor=actor,
            message=f"{label[0].upper()}{label[1:]} {verb} by {actor}",
            data={f"{what}_id": monitor.pk},
        )
    audit.record(
        action=f"{what}.{verb}",
        actor=actor,
        team=monitor.service.team_id,
        target=f"{what} {monitor.pk}: {monitor.name}",
        data={f"{what}_id": monitor.pk},
    )


@transaction.atomic
def pause_probe(*, probe: Probe, actor: Actor) -> Probe:
    """Stop running the probe. Pausing a paused probe changes nothing (and records nothing)."""
    probe = Probe.objects.select_for_update(of=("self",)).select_related("service").get(pk=probe.pk)
    if probe.paused:
        return probe
    probe.paused = True
    probe.state = ProbeState.PAUSED
    probe.consecutive_failures = probe.consecutive_slow = probe.consecutive_successes = 0
    probe.state_changed_at = timezone.now()
    probe.save(
        update_fields=[
            "paused", "state", "consecutive_failures", "consecutive_slow",
            "consecutive_successes", "state_changed_at",
        ]
    )  # fmt: skip
    _note_pause(probe, what="probe", verb="paused", actor=actor)
    return probe


@transaction.atomic
def resume_probe(*, probe: Probe, actor: Actor) -> Probe:
    probe = Probe.objects.select_for_update(of=("self",)).select_related("service").get(pk=probe.pk)
    if not probe.paused:
        return probe
    now = timezone.now()
    probe.paused = False
    probe.state = ProbeState.NEW
    probe.next_due_at = now
    probe.state_changed_at = now
    probe.save(update_fields=["paused", "state", "next_due_at", "state_changed_at"])
    _note_pause(probe, what="probe", verb="resumed", actor=actor)
    return probe


# --- heartbeats ---------------------------------------------------------------------------


def heartbeat_went_down(
    *, heartbeat_id: int, reason: str, now: datetime | None = None, overdue: bool = False
) -> Incident | None:
    """Mark a heartbeat down and open its incident, unless it already is down.

    With ``overdue`` (the sweep), re-checks under the row lock that it is still up and still
    overdue: a ping that arrived meanwhile wins, and two sweeps open one incident.
    """
    now = now or timezone.now()
    with transaction.atomic():
        heartbeat = (
            Heartbeat.objects.select_for_update(of=("self",))
            .select_related("service")
            .get(pk=heartbeat_id)
        )
        if heartbeat.state == ProbeState.DOWN:
            return None
        if overdue and (
            heartbeat.state != ProbeState.UP
            or heartbeat.alert_after is None
            or heartbeat.alert_after >= now
        ):
            return None
        heartbeat.state = ProbeState.DOWN
        heartbeat.state_changed_at = now
        heartbeat.save(update_fields=["state", "state_changed_at"])
        title = f"{heartbeat.name} is silent" if overdue else f"{heartbeat.name} failed"
        if _silenced(heartbeat, title=title, severity=heartbeat.severity, summary=reason):
            return None
        incident, _ = incident_services.open_incident(
            service=heartbeat.service,
            title=title,
            severity=heartbeat.severity,
            actor=Actor.probe(heartbeat.name),
            summary=reason,
            dedup_key=heartbeat.dedup_key,
            source=Source.PROBE,
            is_drill=injection.heartbeat_in_drill(heartbeat.pk),
            data={"heartbeat_id": heartbeat.pk, "uuid": str(heartbeat.uuid)},
        )
        return incident


def heartbeat_recovered(*, heartbeat_id: int, now: datetime | None = None) -> Incident | None:
    """A success ping on a heartbeat that was not up: it is up, and its incident resolved."""
    now = now or timezone.now()
    with transaction.atomic():
        heartbeat = Heartbeat.objects.select_for_update().get(pk=heartbeat_id)
        if heartbeat.state == ProbeState.UP:
            return None
        if injection.heartbeat_in_drill(heartbeat.pk):
            return None  # a game day keeps it silent until the drill ends
        old_state = heartbeat.state
        heartbeat.state = ProbeState.UP
        heartbeat.state_changed_at = now
        fields = ["state", "state_changed_at"]
        if heartbeat.alert_after is None or heartbeat.alert_after < now:
            heartbeat.alert_after = now + timedelta(
                seconds=heartbeat.period_seconds + heartbeat.grace_seconds
            )
            fields.append("alert_after")
        heartbeat.save(update_fields=fields)
        if old_state != ProbeState.DOWN:
            return None
        incident = _open_incident_for(heartbeat)
        if incident is None:
            suppression.cleared(service_id=heartbeat.service_id, dedup_key=heartbeat.dedup_key)
            return None
        return incident_services.resolve(
            incident=incident,
            actor=Actor.probe(heartbeat.name),
            note=f"recovered automatically: success ping at {now:%Y-%m-%d %H:%M:%S %Z}",
        )


def sweep_overdue_heartbeats(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Mark every heartbeat silent past its period + grace down. Safe to run twice at once."""
    now = now or timezone.now()
    overdue = list(
        Heartbeat.objects.filter(state=ProbeState.UP, alert_after__lt=now)
        .order_by("alert_after")
        .values_list("pk", "last_ping_at", "period_seconds", "grace_seconds")[:limit]
    )
    opened = []
    for pk, last_ping_at, period, grace in overdue:
        last = f"{last_ping_at:%Y-%m-%d %H:%M:%S %Z}" if last_ping_at else "never"
        reason = (
            f"No ping since {last}: expected one every {timedelta(seconds=period)} "
            f"with {timedelta(seconds=grace)} grace."
        )
        if heartbeat_went_down(heartbeat_id=pk, reason=reason, now=now, overdue=True):
            opened.append(pk)
    return opened


@transaction.atomic
def pause_heartbeat(*, heartbeat: Heartbeat, actor: Actor) -> Heartbeat:
    """Stop watching the heartbeat until its next ping. Pausing twice records nothing."""
    heartbeat = (
        Heartbeat.objects.select_for_update(of=("self",))
        .select_related("service")
        .get(pk=heartbeat.pk)
    )
    if heartbeat.state == ProbeState.PAUSED:
        return heartbeat
    heartbeat.state = ProbeState.PAUSED
    heartbeat.alert_after = None
    heartbeat.state_changed_at = timezone.now()
    heartbeat.save(update_fields=["state", "alert_after", "state_changed_at"])
    _note_pause(heartbeat, what="heartbeat", verb="paused", actor=actor)
    return heartbeat
