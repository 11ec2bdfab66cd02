"""Snoozing an acknowledged incident, as PagerDuty does: quiet for N minutes, then it is
triggered again and its escalation restarts from the level its severity starts at.

The due time lives in the database (``IncidentSnooze.until``); the beat runs
``wake_due_snoozes`` every SNOOZE_SWEEP_SECONDS. Waking is claimed by a conditional UPDATE that
clears ``until``, under the incident's row lock, so two sweeps (or a sweep and a duplicate
task) re-trigger an incident once. The restart itself is the escalation engine's answer to the
``incident_snooze_expired`` event, which it handles idempotently like a reopen.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents import events
from incidents.actors import Actor
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.models import Incident, IncidentSnooze, Status
from incidents.services import record

log = logging.getLogger(__name__)

MAX_MINUTES = 7 * 24 * 60
CHOICES = [
    (15, _("15 minutes")),
    (30, _("30 minutes")),
    (60, _("1 hour")),
    (120, _("2 hours")),
    (240, _("4 hours")),
    (480, _("8 hours")),
    (1440, _("24 hours")),
]
WAKER = Actor.system("snooze")


def _span(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _locked(incident: Incident) -> Incident:
    return Incident.objects.select_for_update().get(pk=incident.pk)


def active_snooze(incident: Incident) -> IncidentSnooze | None:
    """The snooze running on ``incident`` now, or None.

    A snooze belongs to one acknowledgement: once the incident was mitigated, resolved or
    reopened and acknowledged again, an old row no longer applies (its wake-up is a no-op)."""
    snooze = IncidentSnooze.objects.filter(incident=incident, until__isnull=False).first()
    if snooze is None or not applies(snooze, incident):
        return None
    return snooze


def applies(snooze: IncidentSnooze, incident: Incident) -> bool:
    return (
        snooze.until is not None
        and incident.status == Status.ACKNOWLEDGED
        and incident.acknowledged_at is not None
        and incident.acknowledged_at <= snooze.snoozed_at
    )


@transaction.atomic
def snooze_incident(*, incident: Incident, minutes: int, actor: Actor) -> IncidentSnooze:
    """Snooze an acknowledged incident for ``minutes`` (1 to a week); snoozing again replaces
    the due time."""
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        raise InvalidIncidentInput(f"a snooze lasts 1 to {MAX_MINUTES} minutes, got {minutes!r}")
    incident = _locked(incident)
    if incident.status != Status.ACKNOWLEDGED:
        raise InvalidTransition(
            f"cannot snooze {incident.reference}: it is {incident.status}, and only "
            "acknowledged incidents can be snoozed"
        )
    now = timezone.now()
    until = now + timedelta(minutes=minutes)
    snooze, _created = IncidentSnooze.objects.update_or_create(
        incident=incident,
        defaults={
            "until": until,
            "minutes": minutes,
            "snoozed_at": now,
            "snoozed_by": actor.user_or_none,
        },
    )
    incident.updated_at = now
    incident.save(update_fields=["updated_at"])
    record(
        incident=incident,
        kind="snoozed",
        actor=actor,
        at=now,
        message=f"Snoozed by {actor} for {_span(minutes)}: triggered again at "
        f"{until:%Y-%m-%d %H:%M} UTC unless resolved or mitigated first",
        data={"minutes": minutes, "until": until.isoformat()},
    )
    return snooze


@transaction.atomic
def cancel_snooze(*, incident: Incident, actor: Actor) -> Incident:
    """End a snooze early; the incident stays acknowledged (and quiet)."""
    incident = _locked(incident)
    snooze = active_snooze(incident)
    if snooze is None:
        raise InvalidTransition(f"{incident.reference} is not snoozed")
    IncidentSnooze.objects.filter(pk=snooze.pk).update(until=None)
    now = timezone.now()
    incident.updated_at = now
    incident.save(update_fields=["updated_at"])
    record(
        incident=incident,
        kind="snooze_cancelled",
        actor=actor,
        at=now,
        message=f"Snooze cancelled by {actor}; the incident stays acknowledged",
    )
    return incident


def wake_incident(*, incident_id: int, now: datetime | None = None) -> bool:
    """Re-trigger one incident whose snooze is due. True when this call did it; a duplicate,
    an early call or a snooze that no longer applies changes nothing (a stale row is cleared)."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
        if incident is None:
            return False
        snooze = (
            IncidentSnooze.objects.select_for_update()
            .filter(incident_id=incident_id, until__isnull=False, until__lte=now)
            .first()
        )
        if snooze is None:
            return False
        IncidentSnooze.objects.filter(pk=snooze.pk).update(until=None)
        if not applies(snooze, incident):
            return False  # mitigated, resolved or acknowledged anew since: nothing to wake
        # acknowledged_at is kept: MTTA counts the first acknowledgement, as PagerDuty's does,
        # and ``services.acknowledge`` keeps it when the incident is acknowledged again.
        incident.status = Status.TRIGGERED
        incident.updated_at = now
        incident.save(update_fields=["status", "updated_at"])
        record(
            incident=incident,
            kind="snooze_expired",
            actor=WAKER,
            at=now,
            message=f"Snooze of {_span(snooze.minutes)} ended: triggered again, escalation restarts",
            data={"minutes": snooze.minutes},
        )
        events.announce(events.incident_snooze_expired, incident_id=incident.pk)
        log.info("%s woke from its snooze", incident.reference)
        return True


def wake_due_snoozes(*, now: datetime | None = None, limit: int = 200) -> int:
    """The beat sweep: wake every incident whose snooze is due. Safe to run concurrently."""
    now = now or timezone.now()
    due = list(
        IncidentSnooze.objects.filter(until__isnull=False, until__lte=now)
        .order_by("until")
        .values_list("incident_id", flat=True)[:limit]
    )
    woken = 0
    for incident_id in due:
        try:
            woken += wake_incident(incident_id=incident_id, now=now)
        except Exception:  # one broken row must not hold up the others
            log.exception("waking snoozed incident %s failed", incident_id)
    return woken
