"""Domain events the incident core announces after commit.

The core never imports the apps built on it. Each app subscribes in its AppConfig.ready():

    incident_opened.connect(start_escalation)

Receivers get ``incident_id`` (re-read the row: it may have changed since) and keyword
details. Receivers run after the transaction commits; they should only enqueue work or write
their own rows, and must tolerate running for an incident that has already moved on.
"""

from django.db import transaction
from django.dispatch import Signal

incident_opened = Signal()  # incident_id, severity
incident_repeated = Signal()  # incident_id
incident_acknowledged = Signal()  # incident_id, user_id
incident_mitigated = Signal()  # incident_id
incident_resolved = Signal()  # incident_id, severity
incident_reopened = Signal()  # incident_id, severity
incident_severity_changed = Signal()  # incident_id, old, new
incident_assigned = Signal()  # incident_id, user_id
incident_escalation_requested = Signal()  # incident_id, user_id ("escalate now")


def announce(signal: Signal, **details) -> None:
    """Send the event once the current transaction commits (at once outside a transaction).

    A failing receiver is logged by robust dispatch and never breaks the caller, whose change
    is already committed.
    """

    def send() -> None:
        for receiver, result in signal.send_robust(sender=None, **details):
            if isinstance(result, Exception):
                import logging

                logging.getLogger("incidents.events").error(
                    "event receiver %r failed: %r", receiver, result, exc_info=result
                )

    transaction.on_commit(send, robust=True)
