"""The escalation auditor: a last line behind the outbox and the sweep (beat, every minute).

The outbox re-dispatches lost events and the oncall sweep fires due steps, so in a healthy
system the auditor finds nothing. It looks for the two states in which nobody would ever be
paged, repairs them through the escalation engine and says so on the incident's timeline:

- an open, unacknowledged incident older than the grace with no escalation at all (the opened
  event never reached oncall: a bug, a receiver rolled back forever, rows deleted by hand);
- an active escalation whose next step is overdue by more than the grace (the sweep is not
  running, or fails on this incident).

Drills escalate like real incidents here (oncall has no drill exception), so they are audited
too. Safe to run twice at once: the repair of a never-started escalation holds the incident's
row lock and re-checks, an overdue step fires only with its current token (SKIP LOCKED), and
the timeline entry is written only by the run whose repair took effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import EventDispatch, Incident, Status
from oncall import escalation
from oncall.models import LEVEL_NAMES, EscalationState, EscalationStatus

log = logging.getLogger(__name__)
AUDITOR = Actor.system("escalation auditor")


@dataclass
class AuditReport:
    started: list[int] = field(default_factory=list)  # incident ids
    fired: list[int] = field(default_factory=list)  # incident ids
    failed: list[int] = field(default_factory=list)  # incident ids the repair raised on


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _start_if_never_started(incident_id: int, now: datetime) -> bool:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .filter(pk=incident_id, status=Status.TRIGGERED)
            .first()
        )
        if incident is None or EscalationState.objects.filter(incident_id=incident_id).exists():
            return False  # acknowledged meanwhile, or another auditor/receiver started it
        incident_services.record(
            incident=incident,
            kind="escalation_audit",
            actor=AUDITOR,
            at=now,
            message=f"Escalation auditor: no escalation had started "
            f"{_ago(now - incident.triggered_at)} after the incident was triggered; starting it",
            data={"repair": "started", "triggered_at": incident.triggered_at.isoformat()},
        )
        escalation.start_escalation(incident_id=incident_id, now=now)
        return True


def _fire_if_overdue(state_id: int, token, due_at: datetime, now: datetime) -> bool:
    with transaction.atomic():
        fired = escalation.fire_due_step(state_id=state_id, token=token, now=now)
        if not fired:
            return False
        state = EscalationState.objects.select_related("incident").get(pk=state_id)
        incident_services.record(
            incident=state.incident,
            kind="escalation_audit",
            actor=AUDITOR,
            at=now,
            message=f"Escalation auditor: the next escalation step was overdue by "
            f"{_ago(now - due_at)} (due {due_at:%Y-%m-%d %H:%M:%S} UTC); fired it: "
            f"{LEVEL_NAMES.get(state.current_level, f'L{state.current_level}')} engaged",
            data={
                "repair": "fired_overdue_step",
                "due_at": due_at.isoformat(),
                "level": state.current_level,
            },
        )
        return True


def audit_escalations(
    *, now: datetime | None = None, grace_seconds: int | None = None, limit: int = 200
) -> AuditReport:
    """Repair escalations that never started or whose next step is overdue beyond the grace."""
    now = now or timezone.now()
    grace = timedelta(
        seconds=settings.ONCALL_AUDIT_GRACE_SECONDS if grace_seconds is None else grace_seconds
    )
    report = AuditReport()

    # An incident whose events the outbox still holds, handed over within the grace, is the
    # outbox's to deliver (a demo seeded with back-dated incidents before the workers started).
    in_outbox = EventDispatch.objects.filter(
        entry__incident=OuterRef("pk"), dispatched_at__isnull=True, created_at__gt=now - grace
    )
    never_started = list(
        Incident.objects.filter(
            status=Status.TRIGGERED,
            escalation_state__isnull=True,
            triggered_at__lte=now - grace,
        )
        .exclude(Exists(in_outbox))
        .order_by("triggered_at")
        .values_list("pk", flat=True)[:limit]
    )
    for incident_id in never_started:
        try:
            if _start_if_never_started(incident_id, now):
                report.started.append(incident_id)
        except Exception:  # one broken incident must not hide the others
            log.exception("auditor could not start the escalation of incident %s", incident_id)
            report.failed.append(incident_id)

    overdue = list(
        EscalationState.objects.filter(
            status=EscalationStatus.ACTIVE,
            next_due_at__lte=now - grace,
            incident__status=Status.TRIGGERED,
        )
        .order_by("next_due_at")
        .values_list("pk", "token", "next_due_at", "incident_id")[:limit]
    )
    for state_id, token, due_at, incident_id in overdue:
        try:
            if _fire_if_overdue(state_id, token, due_at, now):
                report.fired.append(incident_id)
        except Exception:
            log.exception("auditor could not fire the overdue step of incident %s", incident_id)
            report.failed.append(incident_id)

    if report.started or report.fired or report.failed:
        log.warning(
            "escalation audit repaired: %s started, %s overdue steps fired, %s failed",
            len(report.started),
            len(report.fired),
            len(report.failed),
        )
    return report
