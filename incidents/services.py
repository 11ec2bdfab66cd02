"""The verbs of the incident core. Every change of an incident goes through one function here.

Each function runs in one transaction, locks the incident row (``select_for_update``), checks
the transition, saves only the fields it changed, writes exactly one timeline entry and
announces a domain event after commit. Invalid requests raise ``InvalidTransition`` with a
message that says what was tried and why it is not allowed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.permissions import Action, can
from incidents import aliases, events
from incidents.actors import Actor
from incidents.errors import DedupConflict, IncidentError, InvalidIncidentInput, InvalidTransition
from incidents.models import (
    OPEN_STATUSES,
    Incident,
    Service,
    Severity,
    Source,
    Status,
    TimelineEntry,
)

log = logging.getLogger(__name__)
# Timeline kinds that change an incident's state: each is one INFO log line (the operator's
# view of what happened), the rest of the timeline stays out of the log.
TRANSITION_KINDS = frozenset(
    {
        "opened",
        "acknowledged",
        "mitigated",
        "resolved",
        "reopened",
        "severity_changed",
        "assigned",
        "snoozed",
        "unsnoozed",
        "merged",
    }
)


def record(
    *,
    incident: Incident,
    kind: str,
    actor: Actor,
    message: str,
    data: dict | None = None,
    at: datetime | None = None,
) -> TimelineEntry:
    """Append a timeline entry. Apps built on the core use this for their own entries.

    A change of the incident's state also makes one INFO log line, once the change committed.
    """
    if kind in TRANSITION_KINDS:
        line = (incident.reference, kind, actor.label or actor.kind, message)
        transaction.on_commit(lambda: log.info("%s %s by %s: %s", *line))
    return TimelineEntry.objects.create(
        incident=incident,
        at=at or timezone.now(),
        kind=kind,
        actor_kind=actor.kind,
        actor_user=actor.user_or_none,
        actor_label=actor.label[:150],
        message=message,
        data=data or {},
    )


def _audit(incident: Incident, action: str, actor: Actor, **data) -> None:
    """The audit row of a security-relevant act on an incident, in the act's transaction.

    One name per act whatever the origin (board, room, API, acknowledge link, integration)."""
    audit.record(
        action=f"incident.{action}",
        actor=actor,
        team=incident.team_id,
        target=incident.reference,
        data={"incident_id": incident.pk, **data},
    )


def _validate_severity(severity: int) -> int:
    if severity not in Severity.values:
        raise InvalidIncidentInput(f"severity must be 1 to 5, got {severity!r}")
    return int(severity)


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _touch(incident: Incident, now: datetime, fields: list[str]) -> None:
    incident.updated_at = now
    incident.save(update_fields=[*fields, "updated_at"])


def open_incident(
    *,
    service: Service,
    title: str,
    severity: int,
    actor: Actor,
    summary: str = "",
    dedup_key: str = "",
    source: str = Source.MANUAL,
    is_drill: bool = False,
    data: dict | None = None,
) -> tuple[Incident, bool]:
    """Open an incident, or attach to the open one with the same (service, dedup_key).

    Returns ``(incident, created)``. Safe under concurrency: the partial unique index decides
    which caller creates the incident; the others see the violation, re-read and record a repeat.
    """
    severity = _validate_severity(severity)
    if (
        source == Source.MANUAL
        and Service.objects.filter(pk=service.pk, archived_at__isnull=False).exists()
    ):
        # Archiving switched every automatic source off (incidents.catalog); people are told.
        raise IncidentError(f"cannot open an incident on {service.name}: the service is archived")
    title = (title or "").strip()[:255]
    if not title:
        raise InvalidIncidentInput("an incident needs a title")
    dedup_key = (dedup_key or "").strip()[:255]

    if dedup_key:
        existing = _repeat_if_open(service=service, dedup_key=dedup_key, actor=actor, data=data)
        if existing is not None:
            return existing, False

    now = timezone.now()
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                team_id=service.team_id,
                service=service,
                title=title,
                summary=summary,
                severity=severity,
                status=Status.TRIGGERED,
                dedup_key=dedup_key,
                source=source,
                is_drill=is_drill,
                created_by=actor.user_or_none,
                triggered_at=now,
                last_seen_at=now,
                updated_at=now,
            )
            record(
                incident=incident,
                kind="opened",
                actor=actor,
                at=now,
                message=f"Opened with severity {severity} ({Severity(severity).label}) by {actor}",
                data={"severity": severity, "source": source, **(data or {})},
            )
            events.announce(events.incident_opened, incident_id=incident.pk, severity=severity)
    except IntegrityError:
        if not dedup_key:
            raise
        # Another caller opened it between our look and our insert: attach to theirs.
        existing = _repeat_if_open(service=service, dedup_key=dedup_key, actor=actor, data=data)
        if existing is None:  # it was resolved again in between; extremely rare, try once more
            return open_incident(
                service=service,
                title=title,
                severity=severity,
                actor=actor,
                summary=summary,
                dedup_key=dedup_key,
                source=source,
                is_drill=is_drill,
                data=data,
            )
        return existing, False
    return incident, True


def _repeat_if_open(
    *, service: Service, dedup_key: str, actor: Actor, data: dict | None
) -> Incident | None:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(service=service, dedup_key=dedup_key, status__in=OPEN_STATUSES)
            .first()
        )
        if incident is None:
            # The key's incident was merged into another one that is still open: repeat there.
            incident = aliases.locked_open_target(service_id=service.pk, dedup_key=dedup_key)
        if incident is None:
            return None
        now = timezone.now()
        incident.repeat_count += 1
        incident.last_seen_at = now
        _touch(incident, now, ["repeat_count", "last_seen_at"])
        record(
            incident=incident,
            kind="repeated",
            actor=actor,
            at=now,
            message=f"Triggered again by {actor} (repeat {incident.repeat_count})",
            data=data or {},
        )
        events.announce(events.incident_repeated, incident_id=incident.pk)
        return incident


_PAST = {
    "acknowledge": "acknowledged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "reopen": "reopened",
    "escalate": "escalated",
}


def _require(incident: Incident, allowed: tuple[str, ...], verb: str) -> None:
    if incident.status not in allowed:
        raise InvalidTransition(
            f"cannot {verb} {incident.reference}: it is {incident.status}, and only "
            f"{' or '.join(allowed)} incidents can be {_PAST[verb]}"
        )


@transaction.atomic
def acknowledge(*, incident: Incident, actor: Actor) -> Incident:
    incident = _locked(incident)
    _require(incident, (Status.TRIGGERED,), "acknowledge")
    now = timezone.now()
    incident.status = Status.ACKNOWLEDGED
    fields = ["status"]
    if incident.acknowledged_at is None:
        # Set unless a snooze ran out (incidents.snooze): the first acknowledgement stands (MTTA).
        incident.acknowledged_at = now
        incident.acknowledged_by = actor.user_or_none
        fields += ["acknowledged_at", "acknowledged_by"]
    message = f"Acknowledged by {actor}"
    # Whoever acknowledges an unowned incident owns it (every door: room, board, API, links),
    # if they may be assigned at all: a specialist of another team paged at L3 is not.
    user = actor.user_or_none
    takes_it = (
        incident.assignee_id is None
        and user is not None
        and can(user, incident.team_id, Action.RESPOND)
    )
    if takes_it:
        incident.assignee = user
        fields.append("assignee")
        message += ", who is now assigned"
    _touch(incident, now, fields)
    record(
        incident=incident,
        kind="acknowledged",
        actor=actor,
        at=now,
        message=message,
        data={"assignee_id": incident.assignee_id} if takes_it else {},
    )
    _audit(incident, "acknowledged", actor)
    events.announce(
        events.incident_acknowledged,
        incident_id=incident.pk,
        user_id=getattr(actor.user_or_none, "pk", None),
    )
    if takes_it:
        events.announce(
            events.incident_assigned, incident_id=incident.pk, user_id=incident.assignee_id
        )
    return incident


@transaction.atomic
def mitigate(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    incident = _locked(incident)
    _require(incident, (Status.TRIGGERED, Status.ACKNOWLEDGED), "mitigate")
    now = timezone.now()
    fields = ["status", "mitigated_at"]
    if incident.acknowledged_at is None:
        # Mitigating implies someone is on it: count it as the acknowledgement too (MTTA).
        incident.acknowledged_at = now
        incident.acknowledged_by = actor.user_or_none
        fields += ["acknowledged_at", "acknowledged_by"]
    incident.status = Status.MITIGATED
    incident.mitigated_at = now
    _touch(incident, now, fields)
    message = f"Mitigated by {actor}" + (f": {note}" if note else "")
    record(
        incident=incident,
        kind="mitigated",
        actor=actor,
        at=now,
        message=message,
        data={"note": note},
    )
    events.announce(events.incident_mitigated, incident_id=incident.pk)
    return incident


@transaction.atomic
def resolve(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    incident = _locked(incident)
    _require(incident, OPEN_STATUSES, "resolve")
    now = timezone.now()
    incident.status = Status.RESOLVED
    incident.resolved_at = now
    incident.resolved_by = actor.user_or_none
    incident.resolution_note = note
    _touch(incident, now, ["status", "resolved_at", "resolved_by", "resolution_note"])
    message = f"Resolved by {actor}" + (f": {note}" if note else "")
    record(
        incident=incident,
        kind="resolved",
        actor=actor,
        at=now,
        message=message,
        data={"note": note},
    )
    _audit(incident, "resolved", actor)
    events.announce(events.incident_resolved, incident_id=incident.pk, severity=incident.severity)
    return incident


def reopen(*, incident: Incident, actor: Actor, reason: str = "") -> Incident:
    try:
        with transaction.atomic():
            incident = _locked(incident)
            _require(incident, (Status.RESOLVED,), "reopen")
            now = timezone.now()
            incident.status = Status.TRIGGERED
            incident.acknowledged_at = None
            incident.acknowledged_by = None
            incident.mitigated_at = None
            incident.resolved_at = None
            incident.resolved_by = None
            incident.reopened_at = now
            incident.reopen_count += 1
            _touch(
                incident,
                now,
                [
                    "status",
                    "acknowledged_at",
                    "acknowledged_by",
                    "mitigated_at",
                    "resolved_at",
                    "resolved_by",
                    "reopened_at",
                    "reopen_count",
                ],
            )
            message = f"Reopened by {actor}" + (f": {reason}" if reason else "")
            record(
                incident=incident,
                kind="reopened",
                actor=actor,
                at=now,
                message=message,
                data={"reason": reason},
            )
            _audit(incident, "reopened", actor)
            events.announce(
                events.incident_reopened, incident_id=incident.pk, severity=incident.severity
            )
            return incident
    except IntegrityError:
        other = (
            Incident.objects.open()
            .filter(service_id=incident.service_id, dedup_key=incident.dedup_key)
            .first()
        )
        raise DedupConflict(
            f"cannot reopen {incident.reference}: {other.reference if other else 'another incident'} "
            f"is already open for the same alert key {incident.dedup_key!r}"
        ) from None


@transaction.atomic
def change_severity(
    *, incident: Incident, severity: int, actor: Actor, reason: str = ""
) -> Incident:
    severity = _validate_severity(severity)
    incident = _locked(incident)
    old = incident.severity
    if old == severity:
        raise InvalidTransition(f"{incident.reference} already has severity {severity}")
    now = timezone.now()
    incident.severity = severity
    _touch(incident, now, ["severity"])
    verb = "Raised" if severity > old else "Lowered"
    message = f"{verb} severity from {old} to {severity} ({Severity(severity).label}) by {actor}"
    if reason:
        message += f": {reason}"
    record(
        incident=incident,
        kind="severity_changed",
        actor=actor,
        at=now,
        message=message,
        data={"old": old, "new": severity, "reason": reason},
    )
    events.announce(
        events.incident_severity_changed, incident_id=incident.pk, old=old, new=severity
    )
    return incident


@transaction.atomic
def assign(*, incident: Incident, assignee, actor: Actor) -> Incident:
    incident = _locked(incident)
    if assignee is not None and not can(assignee, incident.team_id, Action.RESPOND):
        raise InvalidTransition(
            f"cannot assign {incident.reference} to {assignee}: not a responder in team {incident.team}"
        )
    if incident.assignee_id == getattr(assignee, "pk", None):
        raise InvalidTransition(
            f"{incident.reference} is already assigned to {assignee or 'nobody'}"
        )
    now = timezone.now()
    incident.assignee = assignee
    _touch(incident, now, ["assignee"])
    message = f"Assigned to {assignee} by {actor}" if assignee else f"Unassigned by {actor}"
    record(
        incident=incident,
        kind="assigned",
        actor=actor,
        at=now,
        message=message,
        data={"assignee_id": getattr(assignee, "pk", None)},
    )
    events.announce(
        events.incident_assigned, incident_id=incident.pk, user_id=getattr(assignee, "pk", None)
    )
    return incident


@transaction.atomic
def add_note(*, incident: Incident, actor: Actor, text: str) -> TimelineEntry:
    text = (text or "").strip()
    if not text:
        raise InvalidIncidentInput("a note needs some text")
    incident = _locked(incident)
    now = timezone.now()
    _touch(incident, now, [])
    return record(incident=incident, kind="note", actor=actor, at=now, message=text)


@transaction.atomic
def request_escalation(*, incident: Incident, actor: Actor) -> Incident:
    """ "Escalate now": the escalation engine (oncall) moves the incident one level up."""
    incident = _locked(incident)
    _require(incident, (Status.TRIGGERED, Status.ACKNOWLEDGED), "escalate")
    now = timezone.now()
    _touch(incident, now, [])
    record(
        incident=incident,
        kind="escalation_requested",
        actor=actor,
        at=now,
        message=f"Escalation requested by {actor}",
    )
    events.announce(
        events.incident_escalation_requested,
        incident_id=incident.pk,
        user_id=getattr(actor.user_or_none, "pk", None),
    )
    return incident
