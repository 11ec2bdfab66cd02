"""Which runbooks belong to an incident, and attaching them when it opens."""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase

from django.db import IntegrityError, transaction

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from runbooks.models import ActionRun, AttachReason, Runbook, RunbookRun
from runbooks.services.editing import UnknownRunbook

log = logging.getLogger(__name__)

# Keys of the opening timeline entry's data that hold label sets, most specific first: a
# per-alert "labels" overrides a group's "commonLabels", which overrides "groupLabels".
_LABEL_KEYS = ("groupLabels", "commonLabels", "labels")


def labels_for(incident: Incident) -> dict[str, str]:
    """The labels an incident's runbook matchers see.

    Read from the data of the incident's opening timeline entry (what the integration passed to
    ``open_incident``), plus pseudo-labels every incident has: ``service``, ``severity``,
    ``dedup_key``, ``source``, and ``probe`` (the probe that opened it). When alerts are stored as rows of their own, read their labels
    here too: this is the one function the matcher asks.
    """
    labels: dict[str, str] = {}
    opening = (
        incident.timeline.filter(kind="opened")
        .order_by("id")
        .only("data", "actor_kind", "actor_label")
        .first()
    )
    data = opening.data if opening is not None and isinstance(opening.data, dict) else {}
    for key in _LABEL_KEYS:
        value = data.get(key)
        if isinstance(value, dict):
            labels.update(
                {str(k): str(v) for k, v in value.items() if not isinstance(v, dict | list)}
            )
    for alert in data.get("alerts") or []:
        if isinstance(alert, dict) and isinstance(alert.get("labels"), dict):
            for k, v in alert["labels"].items():
                labels.setdefault(str(k), str(v))
    # Alert rows, where the incident core stores them (incidents.Alert, related name "alerts"),
    # hold every grouped alert's labels; read through the relation so this app needs no import.
    alerts = getattr(incident, "alerts", None)
    if alerts is not None and hasattr(alerts, "values_list"):
        for alert_labels in alerts.order_by("id").values_list("labels", flat=True)[:100]:
            if isinstance(alert_labels, dict):
                for k, v in alert_labels.items():
                    if not isinstance(v, dict | list):
                        labels.setdefault(str(k), str(v))
    # Scalar top-level values (e.g. "probe": "sales-chat", "heartbeat": "nightly-etl") match too.
    for key, value in data.items():
        if isinstance(value, str | int) and not isinstance(value, bool):
            labels.setdefault(str(key), str(value))
    if opening is not None and opening.actor_kind == "probe" and opening.actor_label:
        labels.setdefault("probe", opening.actor_label)
    labels.setdefault("service", incident.service.slug)
    labels.setdefault("severity", str(incident.severity))
    labels.setdefault("source", incident.source)
    if incident.dedup_key:
        labels.setdefault("dedup_key", incident.dedup_key)
    return labels


def runbook_matches(runbook: Runbook, incident: Incident, labels: dict[str, str]) -> bool:
    """Every matcher the runbook names must hold; a runbook naming none matches nothing."""
    if not runbook.is_active or runbook.team_id != incident.team_id or not runbook.has_matcher:
        return False
    if not runbook.min_severity <= incident.severity <= runbook.max_severity:
        return False
    service_ids = runbook.service_ids
    if service_ids and incident.service_id not in service_ids:
        return False
    if runbook.match_title and not fnmatchcase(incident.title.lower(), runbook.match_title.lower()):
        return False
    if runbook.match_dedup_key and not fnmatchcase(incident.dedup_key, runbook.match_dedup_key):
        return False
    for name, pattern in runbook.match_labels.items():
        if name not in labels or not fnmatchcase(labels[name], str(pattern)):
            return False
    return True


def attach_matching_runbooks(*, incident_id: int) -> list[RunbookRun]:
    """Attach every matching runbook not attached yet. Safe to call again (e.g. on severity change)."""
    incident = Incident.objects.select_related("service").filter(pk=incident_id).first()
    if incident is None or not incident.is_open:
        return []
    labels = labels_for(incident)
    candidates = Runbook.objects.filter(team_id=incident.team_id, is_active=True).prefetch_related(
        "services", "steps"
    )
    attached = []
    for runbook in candidates:
        if runbook_matches(runbook, incident, labels):
            run, created = attach_runbook(
                incident=incident,
                runbook=runbook,
                reason=AttachReason.MATCHED,
                actor=Actor.system("runbook matcher"),
            )
            if created:
                attached.append(run)
    return attached


def attach_runbook(
    *, incident: Incident, runbook: Runbook, reason: str, actor: Actor
) -> tuple[RunbookRun, bool]:
    """Attach a runbook to an incident once; steps flagged to run automatically are queued.

    Returns ``(run, created)``. The unique (incident, runbook) constraint decides between two
    concurrent callers; the loser re-reads the winner's row.
    """
    if runbook.team_id != incident.team_id:
        raise UnknownRunbook("a runbook attaches only to incidents of its own team")
    existing = RunbookRun.objects.filter(incident=incident, runbook=runbook).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            run = RunbookRun.objects.create(
                incident=incident, runbook=runbook, reason=reason, attached_by=actor.user_or_none
            )
            how = "matched" if reason == AttachReason.MATCHED else f"attached by {actor}"
            incident_services.record(
                incident=incident,
                kind="runbook_attached",
                actor=actor,
                message=f"Runbook “{runbook.title}” {how}",
                data={"runbook_id": runbook.pk, "run_id": run.pk, "reason": reason},
            )
            for step in runbook.steps.all():
                if step.run_automatically and step.has_action:
                    action_run = ActionRun.objects.create(run=run, step=step, automatic=True)
                    _enqueue_on_commit(action_run.pk)
    except IntegrityError:
        return RunbookRun.objects.get(incident=incident, runbook=runbook), False
    return run, True


def enqueue_action_run(action_run_id: int) -> None:
    from runbooks.tasks import run_step_action

    try:
        run_step_action.delay(action_run_id)
    except Exception:  # broker down: the sweep re-enqueues pending action runs
        log.warning("could not enqueue action run %s; the sweep will retry", action_run_id)


def _enqueue_on_commit(action_run_id: int) -> None:
    transaction.on_commit(lambda: enqueue_action_run(action_run_id))
