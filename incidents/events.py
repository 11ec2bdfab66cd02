"""Domain events the incident core announces; durable through the outbox (incidents.outbox).

The core never imports the apps built on it. Each app subscribes in its AppConfig.ready():

    incident_opened.connect(start_escalation)

``announce(event, **details)`` records one outbox row per connected receiver in the current
transaction (beside the timeline entry the service writes), dispatches them once the
transaction commits, and a beat sweep re-dispatches whatever did not finish: a receiver that
raised, a process killed right after the commit. Delivery is therefore at least once, and
possibly late or out of order with later events of the same incident.

Receivers get ``incident_id`` (re-read the row: it may have changed since), ``entry_id`` (the
announcing timeline entry, or None) and keyword details. They run in a transaction that also
marks their outbox row dispatched; they must be idempotent and must tolerate an incident that
has already moved on (check its current state before acting on a stale event). A receiver's
stable name is ``module.qualname``: renaming one leaves its pending rows without a receiver
(reported on /readyz) until they are re-pointed or deleted.
"""

from __future__ import annotations

from collections.abc import Callable

from django.dispatch import Signal


class DomainEvent(Signal):
    """A Signal whose receivers can be found again by their stable name (for the sweep)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def receivers_by_name(self) -> dict[str, Callable]:
        from incidents.outbox import receiver_name

        sync_receivers, async_receivers = self._live_receivers(None)
        return {receiver_name(r): r for r in [*sync_receivers, *async_receivers]}


incident_opened = DomainEvent("incident_opened")  # incident_id, severity
incident_repeated = DomainEvent("incident_repeated")  # incident_id
incident_acknowledged = DomainEvent("incident_acknowledged")  # incident_id, user_id
incident_mitigated = DomainEvent("incident_mitigated")  # incident_id
incident_resolved = DomainEvent("incident_resolved")  # incident_id, severity
incident_reopened = DomainEvent("incident_reopened")  # incident_id, severity
incident_severity_changed = DomainEvent("incident_severity_changed")  # incident_id, old, new
incident_assigned = DomainEvent("incident_assigned")  # incident_id, user_id
# "escalate now": incident_id, user_id
incident_escalation_requested = DomainEvent("incident_escalation_requested")
# incident_id (the duplicate, now resolved), into_id (the incident it was merged into)
incident_merged = DomainEvent("incident_merged")
# incident_id: a snooze ran out and the incident is triggered again (escalation restarts)
incident_snooze_expired = DomainEvent("incident_snooze_expired")

EVENTS: dict[str, DomainEvent] = {
    event.name: event
    for event in (
        incident_opened,
        incident_repeated,
        incident_acknowledged,
        incident_mitigated,
        incident_resolved,
        incident_reopened,
        incident_severity_changed,
        incident_assigned,
        incident_escalation_requested,
        incident_merged,
        incident_snooze_expired,
    )
}


def announce(signal: DomainEvent, **details) -> None:
    """Record the event for each receiver in the current transaction; dispatch after commit.

    Call it inside the transaction that writes the timeline entry (outside one, the rows are
    written and dispatched at once). ``details`` must be JSON-serialisable. A failing receiver
    never breaks the caller, whose change is committed: it is retried by the sweep.
    """
    from incidents.outbox import record_event

    record_event(signal, details)
