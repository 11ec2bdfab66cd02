"""The drill report: how the response measured up against its targets.

Measured from what happened, never typed:
- detection: drill start -> the drill incident triggered; target: the probe's detection budget
  (interval x failures to open + 2 s, DESIGN.md), a heartbeat's next sweep (+ 2 s), or 2 s for a
  replayed alert;
- acknowledgement: incident triggered -> acknowledged; target: ``DRILLS_ACK_TARGET_SECONDS``;
- mitigation: drill start -> mitigated (or resolved);
- recovery: drill start -> resolved; target: the service's RTO.
Each target may be overridden on the drill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from drills.models import PROBE_SCENARIOS, Drill, Scenario
from incidents.models import Incident
from oncall.models import Notification
from runbooks.models import ActionRun, StepCheck

MET, MISSED, PENDING, NO_TARGET = "met", "missed", "pending", "no target"
# How often monitoring sweeps for overdue heartbeats (monitoring/apps.py periodic task).
HEARTBEAT_SWEEP_SECONDS = 10


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    actual: timedelta | None
    target: timedelta | None

    @property
    def verdict(self) -> str:
        if self.actual is None:
            return PENDING
        if self.target is None:
            return NO_TARGET
        return MET if self.actual <= self.target else MISSED


def _since(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None:
        return None
    return max(end - start, timedelta(0))


def detection_target(drill: Drill) -> timedelta | None:
    if drill.detect_target_seconds:
        return timedelta(seconds=drill.detect_target_seconds)
    if drill.scenario in PROBE_SCENARIOS and drill.probe_id:
        probe = drill.probe
        return timedelta(seconds=probe.interval_seconds * probe.failures_to_open + 2)
    if drill.scenario == Scenario.HEARTBEAT_SILENT:
        return timedelta(seconds=HEARTBEAT_SWEEP_SECONDS + 2)
    return timedelta(seconds=2)


def measures(drill: Drill, incident: Incident | None) -> list[Measure]:
    started = drill.started_at
    ack_target = timedelta(seconds=drill.ack_target_seconds or settings.DRILLS_ACK_TARGET_SECONDS)
    recover_target = None
    if drill.recover_target_seconds:
        recover_target = timedelta(seconds=drill.recover_target_seconds)
    elif drill.service.rto_minutes is not None:
        recover_target = timedelta(minutes=drill.service.rto_minutes)
    triggered = incident.triggered_at if incident else None
    acknowledged = incident.acknowledged_at if incident else None
    resolved = incident.resolved_at if incident else None
    mitigated = (incident.mitigated_at or resolved) if incident else None
    return [
        Measure("detect", _("detection"), _since(started, triggered), detection_target(drill)),
        Measure("ack", _("acknowledgement"), _since(triggered, acknowledged), ack_target),
        Measure("mitigate", _("mitigation"), _since(started, mitigated), None),
        Measure("recover", _("recovery"), _since(started, resolved), recover_target),
    ]


def drill_report(drill: Drill) -> dict:
    """Everything the report page and the API show, in a fixed number of queries."""
    incident = None
    if drill.incident_id:
        incident = Incident.objects.select_related("acknowledged_by").get(pk=drill.incident_id)
    results = measures(drill, incident)
    steps, actions, notifications = [], [], []
    if incident is not None:
        steps = list(
            StepCheck.objects.filter(run__incident=incident)
            .select_related("step", "run__runbook", "checked_by")
            .order_by("checked_at", "pk")
        )
        actions = list(
            ActionRun.objects.filter(run__incident=incident)
            .select_related("step")
            .order_by("requested_at", "pk")
        )
        notifications = list(
            Notification.objects.filter(incident=incident).order_by("created_at", "pk")
        )
    missed = [
        _("%(what)s took %(actual)s, target %(target)s")
        % {"what": m.label, "actual": _human(m.actual), "target": _human(m.target)}
        for m in results
        if m.verdict == MISSED
    ]
    if incident is None and drill.started_at:
        missed.append(_("no incident was opened: the injected failure was not detected"))
    return {
        "drill": drill,
        "incident": incident,
        "measures": results,
        "steps": steps,
        "actions": actions,
        "notifications": notifications,
        "people_paged": sum(1 for n in notifications if n.recipient_id and n.purpose == "page"),
        "all_marked": all(
            n.payload.get("incident", {}).get("is_drill")
            for n in notifications
            if n.payload.get("incident")
        ),  # fmt: skip
        "went_wrong": missed,
    }


def _human(value: timedelta | None) -> str:
    from postmortems.facts import human_duration

    return human_duration(value)
