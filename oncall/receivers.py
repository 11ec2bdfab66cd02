"""Receivers of the incident core's domain events (connected in OncallConfig.ready()).

They run after the incident's transaction committed and write oncall rows in their own
transaction. Each tolerates an incident that has already moved on.
"""

from __future__ import annotations

from oncall import escalation


def on_opened(sender, incident_id, **kwargs):
    escalation.start_escalation(incident_id=incident_id)


def on_acknowledged(sender, incident_id, **kwargs):
    escalation.stop_escalation(incident_id=incident_id, reason="acknowledged")


def on_mitigated(sender, incident_id, **kwargs):
    escalation.stop_escalation(incident_id=incident_id, reason="mitigated")


def on_resolved(sender, incident_id, **kwargs):
    escalation.stop_escalation(incident_id=incident_id, reason="resolved")


def on_reopened(sender, incident_id, **kwargs):
    escalation.restart_escalation(incident_id=incident_id, reason="reopened")


def on_severity_changed(sender, incident_id, old, new, **kwargs):
    escalation.raise_severity(incident_id=incident_id, old=old, new=new)


def on_escalation_requested(sender, incident_id, user_id=None, **kwargs):
    escalation.escalate_now(incident_id=incident_id, user_id=user_id)
