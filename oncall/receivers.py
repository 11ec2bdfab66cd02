"""Receivers of the incident core's domain events (connected in OncallConfig.ready()).

Events are durable and delivered at least once (incidents.outbox): a receiver may run twice,
late, or after later events of the same incident (the first attempt failed and the sweep
retried it while the incident moved on). So each receiver re-reads the incident under its row
lock and acts only when the event still describes the incident; every escalation function it
calls is itself idempotent (the one-to-one state row, the step token, delivery idempotency
keys). Lock order is incident, then escalation state, as in ``escalation.start_escalation``.
"""

from __future__ import annotations

import logging

from django.db import transaction

from incidents.models import Incident, Status, TimelineEntry
from oncall import escalation

log = logging.getLogger(__name__)


def _locked_incident(incident_id: int) -> Incident | None:
    return Incident.objects.select_for_update().filter(pk=incident_id).first()


def _escalation_acted_since(incident_id: int, entry_id: int | None) -> bool:
    """Whether the escalation engine engaged a level after the announcing timeline entry:
    then an event asking for one (reopen, "escalate now") has already been answered."""
    if entry_id is None:
        return False
    return TimelineEntry.objects.filter(
        incident_id=incident_id, kind="escalation_level", pk__gt=entry_id
    ).exists()


def on_opened(sender, incident_id, **kwargs):
    escalation.start_escalation(incident_id=incident_id)


def _stop_unless_triggered(incident_id: int, reason: str) -> None:
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        # A late acknowledge/mitigate/resolve after a reopen must not stop the new escalation.
        if incident is None or incident.status == Status.TRIGGERED:
            return
        escalation.stop_escalation(incident_id=incident_id, reason=reason)


def on_acknowledged(sender, incident_id, **kwargs):
    _stop_unless_triggered(incident_id, "acknowledged")


def on_mitigated(sender, incident_id, **kwargs):
    _stop_unless_triggered(incident_id, "mitigated")


def on_resolved(sender, incident_id, **kwargs):
    _stop_unless_triggered(incident_id, "resolved")


def on_reopened(sender, incident_id, entry_id=None, **kwargs):
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        if incident is None or incident.status != Status.TRIGGERED:
            return
        if _escalation_acted_since(incident_id, entry_id):
            return  # a duplicate: the new series already started
        escalation.restart_escalation(incident_id=incident_id, reason="reopened")


def on_severity_changed(sender, incident_id, old, new, **kwargs):
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        # A late raise after the severity was lowered again must not page the higher level.
        if incident is None or incident.severity < new:
            return
        escalation.raise_severity(incident_id=incident_id, old=old, new=new)


def on_escalation_requested(sender, incident_id, user_id=None, entry_id=None, **kwargs):
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        if incident is None:
            return
        if _escalation_acted_since(incident_id, entry_id):
            return  # a duplicate: a level was engaged since the request
        escalation.escalate_now(incident_id=incident_id, user_id=user_id)


def on_merged(sender, incident_id, into_id=None, **kwargs):
    """The duplicate was resolved by the merge: its escalation stops (once; a repeat finds it
    stopped and does nothing). The incident it went into keeps its own escalation."""
    _stop_unless_triggered(incident_id, f"merged into INC-{into_id}" if into_id else "merged")


def on_snooze_expired(sender, incident_id, entry_id=None, **kwargs):
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        if incident is None or incident.status != Status.TRIGGERED:
            return
        if _escalation_acted_since(incident_id, entry_id):
            return  # a duplicate: the new series already started
        escalation.restart_escalation(incident_id=incident_id, reason="snooze expired")
