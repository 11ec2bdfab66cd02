"""The escalation engine: start, step up on timers, stop, restart, escalate by hand.

All state of an incident's escalation is one EscalationState row. Every function here locks
that row (``select_for_update``), checks its token or status, changes it with update_fields and
creates the deliveries of the level it engages, all in one transaction; the deliveries are
enqueued after commit. A due step is simply ``next_due_at <= now`` on an active row, so timers
live in PostgreSQL and survive any worker or broker restart: the beat sweep fires them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident, Status
from oncall import delivery
from oncall.models import LEVEL_NAMES, EscalationState, EscalationStatus
from oncall.policies import (
    first_level_from,
    next_level_after,
    policy_for_service,
    rule_for,
    snapshot_policy,
)

log = logging.getLogger(__name__)
ENGINE = Actor.system("escalation")


def _save(state: EscalationState, now: datetime, fields: list[str]) -> None:
    state.updated_at = now
    state.save(update_fields=[*fields, "updated_at"])


def _locked_state(incident_id: int) -> EscalationState | None:
    return (
        EscalationState.objects.select_for_update()
        .select_related("incident", "incident__service")
        .filter(incident_id=incident_id)
        .first()
    )


def _schedule_after(state: EscalationState, level: int, now: datetime) -> None:
    """After engaging ``level``: wait its timeout for the next level or a repeat, or finish."""
    snapshot = state.policy_snapshot
    timeout = snapshot["levels"][str(level)]["timeout_minutes"]
    has_next = next_level_after(snapshot, level, state.stop_level) is not None
    # Automated actions (L1) are not repeated: only people are paged again.
    can_repeat = level >= 2 and state.repeats_done < snapshot.get("repeat_last_level", 0)
    if has_next or can_repeat:
        state.status = EscalationStatus.ACTIVE
        state.next_due_at = now + timedelta(minutes=timeout)
    else:
        state.status = EscalationStatus.EXHAUSTED
        state.next_due_at = None


def _engage(
    state: EscalationState, level: int, now: datetime, *, reason: str, purpose: str = "page"
) -> list[int]:
    """Create the deliveries of one level and its timeline entry. Returns notification ids."""
    incident = state.incident
    cycle = f"s{state.series}r{state.repeats_done}"
    created, summary = delivery.create_level_notifications(
        incident=incident,
        level=level,
        level_spec=state.policy_snapshot["levels"][str(level)],
        cycle=cycle,
        purpose=purpose,
        reason=reason,
        now=now,
    )
    verb = "informed" if purpose == "inform" else "engaged"
    incident_services.record(
        incident=incident,
        kind="escalation_level",
        actor=ENGINE,
        at=now,
        message=f"{LEVEL_NAMES[level]} {verb} ({reason}): {summary}",
        data={"level": level, "purpose": purpose, "notifications": created, "series": state.series},
    )
    return created


def _enqueue_after_commit(ids: list[int]) -> None:
    if ids:
        transaction.on_commit(lambda: delivery.enqueue_deliveries(ids), robust=True)


def _start_ladder(state: EscalationState, severity: int, now: datetime, *, reason: str) -> None:
    """Engage the level the severity starts at (plus the levels it informs at once)."""
    snapshot = state.policy_snapshot
    rule = rule_for(snapshot, severity)
    state.stop_level = rule["stop"]
    state.repeats_done = 0
    state.token = uuid.uuid4()
    level = first_level_from(snapshot, rule["start"], rule["stop"])
    if level is None:
        state.current_level = 0
        state.status = EscalationStatus.EXHAUSTED
        state.next_due_at = None
        incident_services.record(
            incident=state.incident,
            kind="escalation_level",
            actor=ENGINE,
            at=now,
            message=f"Policy {snapshot.get('name')!r} has no level from L{rule['start']} to "
            f"L{rule['stop']} for severity {severity}: nobody is paged",
            data={"severity": severity},
        )
        return
    ids = _engage(state, level, now, reason=reason)
    for informed in rule.get("inform", []):
        if informed != level and str(informed) in snapshot["levels"]:
            ids += _engage(state, informed, now, reason=f"severity {severity}", purpose="inform")
    state.current_level = level
    _schedule_after(state, level, now)
    _enqueue_after_commit(ids)


def start_escalation(*, incident_id: int, now: datetime | None = None) -> EscalationState | None:
    """Snapshot the service's policy onto the incident and engage its first level.

    Safe to call twice: the one-to-one state row exists after the first call and the second
    returns it untouched.
    """
    now = now or timezone.now()
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update().select_related("service").get(pk=incident_id)
        )
        existing = EscalationState.objects.filter(incident=incident).first()
        if existing is not None:
            return existing
        policy = policy_for_service(incident.service)
        state = EscalationState(incident=incident, started_at=now, updated_at=now)
        if policy is None:
            state.status = EscalationStatus.NO_POLICY
            state.save()
            incident_services.record(
                incident=incident,
                kind="escalation_level",
                actor=ENGINE,
                at=now,
                message=f"No escalation policy for {incident.service} or its team: nobody is paged",
            )
            return state
        state.policy = policy
        state.policy_snapshot = snapshot_policy(policy)
        state.save()
        if incident.status == Status.TRIGGERED:
            _start_ladder(state, incident.severity, now, reason=f"severity {incident.severity}")
            _save(state, now, ["stop_level", "repeats_done", "token", "current_level", "status",
                               "next_due_at"])  # fmt: skip
        return state


def fire_due_step(*, state_id: int, token, now: datetime | None = None) -> bool:
    """Engage the next level (or repeat the last) if ``token`` is still current and the step due.

    Returns True when this call fired the step. A stale or duplicated call (old token, step not
    due, row locked by another firing) returns False and changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = (
            EscalationState.objects.select_for_update(skip_locked=True)
            .select_related("incident", "incident__service")
            .filter(pk=state_id, token=token, status=EscalationStatus.ACTIVE, next_due_at__lte=now)
            .first()
        )
        if state is None:
            return False
        if state.incident.status != Status.TRIGGERED:
            # The stop event has not arrived yet (or was lost): stop here, page nobody.
            _stop(state, now, reason=f"incident is {state.incident.status}")
            return False
        snapshot = state.policy_snapshot
        timeout = snapshot["levels"][str(state.current_level)]["timeout_minutes"]
        reason = f"unacknowledged after {timeout} min"
        level = next_level_after(snapshot, state.current_level, state.stop_level)
        if level is None:
            state.repeats_done += 1
            level = state.current_level
            reason += f", repeat {state.repeats_done}"
        ids = _engage(state, level, now, reason=reason)
        state.current_level = level
        state.token = uuid.uuid4()
        _schedule_after(state, level, now)
        _save(state, now, ["current_level", "repeats_done", "token", "status", "next_due_at"])
        _enqueue_after_commit(ids)
        return True


def fire_due_escalations(*, now: datetime | None = None, limit: int = 200) -> int:
    """Fire every due step (the beat sweep). Two sweeps at once split the work, never double it."""
    now = now or timezone.now()
    due = list(
        EscalationState.objects.due(now).order_by("next_due_at").values_list("pk", "token")[:limit]
    )
    fired = 0
    for state_id, token in due:
        try:
            fired += fire_due_step(state_id=state_id, token=token, now=now)
        except Exception:  # one broken escalation must not hold up the others
            log.exception("escalation step of state %s failed", state_id)
    return fired


def _stop(state: EscalationState, now: datetime, *, reason: str) -> None:
    was_running = state.status == EscalationStatus.ACTIVE
    state.status = EscalationStatus.STOPPED
    state.next_due_at = None
    state.token = uuid.uuid4()
    _save(state, now, ["status", "next_due_at", "token"])
    cancelled = delivery.cancel_pending_pages(incident_id=state.incident_id)
    if was_running or cancelled:
        incident_services.record(
            incident=state.incident,
            kind="escalation_stopped",
            actor=ENGINE,
            at=now,
            message=f"Escalation stopped at L{state.current_level}: {reason}"
            + (f"; {cancelled} pending page(s) cancelled" if cancelled else ""),
            data={"level": state.current_level, "cancelled": cancelled},
        )


def stop_escalation(*, incident_id: int, reason: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked_state(incident_id)
        if state is None or state.status in (EscalationStatus.STOPPED, EscalationStatus.NO_POLICY):
            return
        _stop(state, now, reason=reason)


def restart_escalation(*, incident_id: int, reason: str, now: datetime | None = None) -> None:
    """Reopen: a new series from the level the current severity starts at."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked_state(incident_id)
        if state is None:
            transaction.on_commit(lambda: start_escalation(incident_id=incident_id))
            return
        if state.status == EscalationStatus.NO_POLICY or state.incident.status != Status.TRIGGERED:
            return
        state.series += 1
        state.current_level = 0
        _start_ladder(state, state.incident.severity, now, reason=reason)
        _save(state, now, ["series", "current_level", "stop_level", "repeats_done", "token",
                           "status", "next_due_at"])  # fmt: skip


def raise_severity(*, incident_id: int, old: int, new: int, now: datetime | None = None) -> None:
    """A severity raise on an unacknowledged incident: jump to the level the new severity
    starts at when that is above the current one, else keep the running timer (and resume an
    escalation the old severity had capped)."""
    if new <= old:
        return
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked_state(incident_id)
        if state is None or state.status in (EscalationStatus.NO_POLICY,):
            return
        if state.incident.status != Status.TRIGGERED:
            return
        rule = rule_for(state.policy_snapshot, new)
        reason = f"severity raised from {old} to {new}"
        if rule["start"] > state.current_level or state.status == EscalationStatus.STOPPED:
            state.series += 1
            state.current_level = 0
            _start_ladder(state, new, now, reason=reason)
        else:
            state.stop_level = max(state.stop_level, rule["stop"])
            state.token = uuid.uuid4()
            if state.status == EscalationStatus.EXHAUSTED:
                _schedule_after(state, state.current_level, now)
                if state.next_due_at is not None:
                    state.next_due_at = now  # the old severity capped it: go up now
        _save(state, now, ["series", "current_level", "stop_level", "repeats_done", "token",
                           "status", "next_due_at"])  # fmt: skip


def escalate_now(*, incident_id: int, user_id: int | None = None, now: datetime | None = None):
    """ "Escalate now": engage the next level at once (or page the last one again)."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked_state(incident_id)
        if state is None or state.status == EscalationStatus.NO_POLICY:
            return
        incident = state.incident
        if incident.status not in (Status.TRIGGERED, Status.ACKNOWLEDGED):
            return
        snapshot = state.policy_snapshot
        level = next_level_after(snapshot, state.current_level, 4)
        if level is None:
            level = state.current_level or first_level_from(snapshot, 1, 4)
            if level is None:
                return
            state.repeats_done += 1
        state.series += 1  # a manual step is its own attempt series
        ids = _engage(state, level, now, reason="escalated by hand")
        state.current_level = level
        state.token = uuid.uuid4()
        state.stop_level = max(state.stop_level, level)
        if incident.status == Status.TRIGGERED:
            _schedule_after(state, level, now)
        else:
            # Acknowledged: someone is on it and asked for help; no timers page further.
            state.status = EscalationStatus.STOPPED
            state.next_due_at = None
        _save(state, now, ["series", "current_level", "repeats_done", "token", "stop_level",
                           "status", "next_due_at"])  # fmt: skip
        _enqueue_after_commit(ids)
