"""The verbs of game days: schedule, start, abort, finish; and the injection itself.

Injection happens inside Vigil only: the probe engine reports the injected outcome instead of
the real one (the real target is still asked, and nothing is sent to it beyond the usual probe
request); a silenced heartbeat is made overdue and kept down until the drill ends; a replayed
alert opens an incident through the core exactly as an integration would. Ending a drill (by
its clock, or aborted) stops every injection at once, because the injectors read the running
drills from the database on every batch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from config.errors import Conflict, InvalidInput, NotFound
from drills.models import (
    MAX_DURATION_MINUTES,
    MAX_LATENCY_MS,
    PROBE_SCENARIOS,
    Drill,
    DrillStatus,
    Scenario,
)
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Alert, Incident, Service, Source, Status
from monitoring.checks import Outcome
from monitoring.models import ErrorCategory, Heartbeat, Probe, ProbeState

log = logging.getLogger(__name__)


class DrillError(Conflict):
    code = "drill_conflict"


def _audit(action: str, *, drill: Drill, actor: Actor, data: dict | None = None) -> None:
    audit.record(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=drill.team,
        target=f"drill {drill.pk}: {drill.name}"[:200],
        data=data or {},
    )


# --- scheduling ----------------------------------------------------------------------------


def _check_moment(starts_at: datetime) -> datetime:
    if timezone.is_naive(starts_at):
        starts_at = timezone.make_aware(starts_at)
    if not 1970 <= starts_at.year <= 2100:
        raise InvalidInput(_("starts_at: must lie between 1970 and 2100"))
    return starts_at


def schedule_drill(
    *,
    service: Service,
    name: str,
    scenario: str,
    starts_at: datetime,
    actor: Actor,
    duration_minutes: int = 30,
    probe: Probe | None = None,
    heartbeat: Heartbeat | None = None,
    alert: Alert | None = None,
    latency_ms: int | None = None,
    detect_target_seconds: int | None = None,
    ack_target_seconds: int | None = None,
    recover_target_seconds: int | None = None,
) -> Drill:
    """Plan a drill on one of the team's services. The caller has checked the caller's role in
    ``service.team``; targets of another service are a 404 (they may be another team's)."""
    name = (name or "").strip()[:200]
    if not name:
        raise InvalidInput(_("name: a drill needs a name"))
    if scenario not in Scenario.values:
        raise InvalidInput(_("scenario: choose one of %(s)s") % {"s": ", ".join(Scenario.values)})
    if not 1 <= int(duration_minutes) <= MAX_DURATION_MINUTES:
        raise InvalidInput(_("duration_minutes: from 1 to %(max)s") % {"max": MAX_DURATION_MINUTES})
    for field_name, value in (("detect_target_seconds", detect_target_seconds),
                              ("ack_target_seconds", ack_target_seconds),
                              ("recover_target_seconds", recover_target_seconds)):  # fmt: skip
        if value is not None and not 1 <= int(value) <= 30 * 86400:
            raise InvalidInput(_("%(f)s: from 1 s to 30 days") % {"f": field_name})
    starts_at = _check_moment(starts_at)
    if scenario in PROBE_SCENARIOS:
        if probe is None or probe.service_id != service.pk:
            raise NotFound(_("probe: no such probe on this service"))
        heartbeat = alert = None
    elif scenario == Scenario.HEARTBEAT_SILENT:
        if heartbeat is None or heartbeat.service_id != service.pk:
            raise NotFound(_("heartbeat: no such heartbeat on this service"))
        probe = alert = None
    else:
        if alert is None or alert.incident.service_id != service.pk:
            raise NotFound(_("alert: no such recorded alert on this service"))
        probe = heartbeat = None
    if scenario == Scenario.PROBE_LATENCY:
        if latency_ms is None or not 1 <= int(latency_ms) <= MAX_LATENCY_MS:
            raise InvalidInput(_("latency_ms: from 1 to %(max)s ms") % {"max": MAX_LATENCY_MS})
    else:
        latency_ms = None
    with transaction.atomic():
        drill = Drill.objects.create(
            team_id=service.team_id,
            service=service,
            name=name,
            scenario=scenario,
            probe=probe,
            heartbeat=heartbeat,
            alert=alert,
            latency_ms=latency_ms,
            starts_at=starts_at,
            duration_minutes=int(duration_minutes),
            detect_target_seconds=detect_target_seconds,
            ack_target_seconds=ack_target_seconds,
            recover_target_seconds=recover_target_seconds,
            created_by=actor.user_or_none,
        )
        _audit("drill.scheduled", drill=drill, actor=actor, data={"scenario": scenario})
    return drill


# --- start, abort, finish ------------------------------------------------------------------


def _locked(drill: Drill) -> Drill:
    return Drill.objects.select_for_update().select_related("service").get(pk=drill.pk)


def start_drill(*, drill: Drill, actor: Actor, now: datetime | None = None) -> Drill:
    """Begin injecting. A second running drill on the same probe or heartbeat is a 409 (the
    partial unique index decides under races)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            drill = _locked(drill)
            if drill.status != DrillStatus.SCHEDULED:
                raise DrillError(
                    _("cannot start drill %(id)s: it is %(status)s")
                    % {"id": drill.pk, "status": drill.get_status_display()}
                )
            drill.status = DrillStatus.RUNNING
            drill.started_at = now
            drill.save(update_fields=["status", "started_at"])
            _forget_running_probes()
            if drill.scenario == Scenario.HEARTBEAT_SILENT:
                # Overdue from now: the real sweep notices the silence on its next run.
                Heartbeat.objects.filter(pk=drill.heartbeat_id, state=ProbeState.UP).update(
                    alert_after=now
                )
            elif drill.scenario == Scenario.ALERT_REPLAY:
                _replay_alert(drill, now=now)
            _audit("drill.started", drill=drill, actor=actor)
    except IntegrityError:
        target = drill.target_label
        raise DrillError(
            _("cannot start drill %(id)s: %(target)s already has a running drill")
            % {"id": drill.pk, "target": target}
        ) from None
    return drill


def _replay_alert(drill: Drill, *, now: datetime) -> None:
    recorded = Alert.objects.select_related("integration").get(pk=drill.alert_id)
    incident, _created = incident_services.open_incident(
        service=drill.service,
        title=f"DRILL: {recorded.summary or recorded.fingerprint}"[:255],
        severity=recorded.severity,
        actor=Actor.integration(f"drill: {recorded.integration.name}"),
        summary=_("Replay of a recorded alert (game day %(name)s).") % {"name": drill.name},
        dedup_key=f"drill:{drill.pk}",
        source=Source.INTEGRATION,
        is_drill=True,
        data={"drill_id": drill.pk, "replayed_alert_id": recorded.pk},
    )
    Alert.objects.get_or_create(
        incident=incident,
        fingerprint=recorded.fingerprint,
        defaults={
            "integration": recorded.integration,
            "status": "firing",
            "severity": recorded.severity,
            "summary": recorded.summary,
            "labels": recorded.labels,
            "annotations": recorded.annotations,
            "details": {"drill_id": drill.pk},
            "starts_at": now,
            "first_seen_at": now,
            "last_seen_at": now,
        },
    )


def _end(drill: Drill, *, status: str, actor: Actor, now: datetime) -> Drill:
    drill.status = status
    drill.ended_at = now
    drill.save(update_fields=["status", "ended_at"])
    _forget_running_probes()
    if drill.scenario == Scenario.ALERT_REPLAY and drill.incident_id:
        # The replayed alert resolves with the drill, as the real one did.
        incident = Incident.objects.get(pk=drill.incident_id)
        if incident.status != Status.RESOLVED:
            incident_services.resolve(
                incident=incident, actor=Actor.system("drill"), note=_("the replayed alert ended")
            )
    _audit(f"drill.{status}", drill=drill, actor=actor)
    return drill


def abort_drill(*, drill: Drill, actor: Actor, now: datetime | None = None) -> Drill:
    """Stop at once: every injection of this drill ends with this commit."""
    now = now or timezone.now()
    with transaction.atomic():
        drill = _locked(drill)
        if not drill.is_active:
            raise DrillError(
                _("cannot abort drill %(id)s: it is already %(status)s")
                % {"id": drill.pk, "status": drill.get_status_display()}
            )
        return _end(drill, status=DrillStatus.ABORTED, actor=actor, now=now)


def run_due_drills(*, now: datetime | None = None) -> dict[str, int]:
    """Start scheduled drills whose time has come and finish those whose time is up. Safe to
    run twice at once: each drill is re-checked under its row lock."""
    now = now or timezone.now()
    started = finished = 0
    system = Actor.system("drills")
    for drill in Drill.objects.filter(status=DrillStatus.SCHEDULED, starts_at__lte=now)[:100]:
        try:
            start_drill(drill=drill, actor=system, now=now)
            started += 1
        except DrillError as exc:
            log.info("scheduled drill %s not started: %s", drill.pk, exc)
            Drill.objects.filter(pk=drill.pk, status=DrillStatus.SCHEDULED).update(
                status=DrillStatus.ABORTED, ended_at=now
            )
    for drill in Drill.objects.running()[:500]:
        if drill.ends_at > now:
            continue
        with transaction.atomic():
            locked = _locked(drill)
            if locked.status == DrillStatus.RUNNING and locked.ends_at <= now:
                _end(locked, status=DrillStatus.FINISHED, actor=system, now=now)
                finished += 1
    return {"started": started, "finished": finished}


# --- the injection hooks (registered in DrillsConfig.ready) ---------------------------------


RUNNING_PROBES_KEY = "drills:running-probe-ids"


def _running_probe_ids() -> set[int]:
    """Probes under a running drill, from the shared cache (the engine asks on every chunk, and
    almost always the answer is "none": no database query for that). Every start and end of a
    drill deletes the key after commit, so the next chunk anywhere reads the new truth."""
    try:
        ids = cache.get(RUNNING_PROBES_KEY)
    except Exception:  # noqa: BLE001 - a cache outage must not stop the probe engine
        ids = None
    if ids is None:
        ids = set(
            Drill.objects.running().filter(probe__isnull=False).values_list("probe_id", flat=True)
        )
        try:
            cache.set(RUNNING_PROBES_KEY, ids, 30)
        except Exception:  # noqa: BLE001
            log.warning("drills: cache unavailable; running drills read from the database")
    return ids


def _forget_running_probes() -> None:
    """Delete the key now and again after commit: a chunk that re-read the old state between
    the two finds it deleted once more."""

    def forget() -> None:
        try:
            cache.delete(RUNNING_PROBES_KEY)
        except Exception:  # noqa: BLE001
            log.warning("drills: could not clear the running-probes cache key")

    forget()
    transaction.on_commit(forget, robust=True)


def inject_probe_outcomes(outcomes: list[Outcome]) -> list[Outcome]:
    """Replace the outcome of every probe under a running drill by the injected one."""
    if not outcomes or not _running_probe_ids().intersection(o.probe_id for o in outcomes):
        return outcomes
    now = timezone.now()
    running = {
        probe_id: (scenario, latency, threshold, name, started_at, duration)
        for probe_id, scenario, latency, threshold, name, started_at, duration in (
            Drill.objects.running()
            .filter(probe_id__in=[o.probe_id for o in outcomes])
            .values_list(
                "probe_id",
                "scenario",
                "latency_ms",
                "probe__latency_threshold_ms",
                "name",
                "started_at",
                "duration_minutes",
            )
        )
        # Past its end but not yet finished by the tick: inject no more.
        if started_at + timedelta(minutes=duration) > now
    }
    if not running:
        return outcomes
    injected = []
    for outcome in outcomes:
        drill = running.get(outcome.probe_id)
        if drill is None:
            injected.append(outcome)
            continue
        scenario, latency, threshold, name, *_rest = drill
        if scenario == Scenario.PROBE_DOWN:
            injected.append(
                Outcome(
                    probe_id=outcome.probe_id,
                    at=outcome.at,
                    ok=False,
                    latency_ms=None,
                    error=ErrorCategory.CONNECTION,
                    message=f"DRILL {name}: injected failure"[:500],
                    drill=True,
                )
            )
        else:
            total = (outcome.latency_ms or 0) + (latency or 0)
            slow = total > threshold
            injected.append(
                Outcome(
                    probe_id=outcome.probe_id,
                    at=outcome.at,
                    ok=outcome.ok,
                    latency_ms=total,
                    status_code=outcome.status_code,
                    error=ErrorCategory.SLOW if slow and outcome.ok else outcome.error,
                    message=f"DRILL {name}: +{latency} ms injected"[:500],
                    drill=True,
                )
            )
    return injected


def heartbeat_silenced(heartbeat_id: int) -> bool:
    return Drill.objects.running().filter(heartbeat_id=heartbeat_id).exists()


# --- linking the drill incident (domain event receiver) --------------------------------------


def link_drill_incident(*, incident_id: int) -> Drill | None:
    """Attach a newly opened drill incident to its running drill. Idempotent: the conditional
    UPDATE links it once, and only then is the timeline entry written."""
    incident = Incident.objects.filter(pk=incident_id, is_drill=True).first()
    if incident is None:
        return None
    key = incident.dedup_key
    drills = Drill.objects.running().filter(service_id=incident.service_id)
    if key.startswith("probe:"):
        drills = drills.filter(probe_id=_int(key[6:]))
    elif key.startswith("heartbeat:"):
        drills = drills.filter(heartbeat_id=_int(key[10:]))
    elif key.startswith("drill:"):
        drills = drills.filter(pk=_int(key[6:]))
    else:
        return None
    drill = drills.order_by("-started_at").first()
    if drill is None:
        return None
    with transaction.atomic():
        linked = Drill.objects.filter(pk=drill.pk, incident__isnull=True).update(incident=incident)
        if linked:
            incident_services.record(
                incident=incident,
                kind="drill",
                actor=Actor.system("drills"),
                message=_("DRILL: this incident is part of the game day “%(name)s”.")
                % {"name": drill.name},
                data={"drill_id": drill.pk},
            )
    drill.refresh_from_db()
    return drill


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


# --- findings -> action items ----------------------------------------------------------------


def save_findings(*, drill: Drill, findings: str, actor: Actor) -> Drill:
    with transaction.atomic():
        drill = _locked(drill)
        drill.findings = (findings or "").replace("\x00", "")[:20000]
        drill.save(update_fields=["findings"])
        _audit("drill.findings_saved", drill=drill, actor=actor)
    return drill


def findings_to_action_items(*, drill: Drill, actor: Actor, extra: list[str] | None = None):
    """Each finding line (and each missed target) becomes an action item on the drill
    incident's post-mortem, drafted if needed. Lines already turned into items are skipped."""
    from postmortems.models import ActionItem
    from postmortems.services import drafting, followup

    if drill.incident_id is None:
        raise DrillError(_("cannot create action items: the drill has no incident yet"))
    lines = [line.strip()[:255] for line in (drill.findings or "").splitlines() if line.strip()]
    lines += [line[:255] for line in extra or []]
    if not lines:
        raise InvalidInput(_("findings: write at least one finding, one per line"))
    incident = Incident.objects.get(pk=drill.incident_id)
    with transaction.atomic():
        postmortem, _created = drafting.create_draft(incident=incident, actor=actor)
        existing = set(
            ActionItem.objects.filter(postmortem=postmortem).values_list("title", flat=True)
        )
        created = []
        for line in dict.fromkeys(lines):
            if line in existing:
                continue
            created.append(followup.add_action_item(postmortem=postmortem, actor=actor, title=line))
        _audit("drill.action_items_created", drill=drill, actor=actor,
               data={"count": len(created)})  # fmt: skip
    return postmortem, created


# --- the quarterly cadence -----------------------------------------------------------------


def quarter_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    month = 3 * ((local.month - 1) // 3) + 1
    return local.replace(month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def drill_due_this_quarter(*, team_id: int, now: datetime | None = None) -> bool:
    """The plan rehearses once a quarter: True when this quarter has no drill run or planned."""
    now = now or timezone.now()
    start = quarter_start(now)
    return not Drill.objects.filter(
        team_id=team_id,
        starts_at__gte=start,
        status__in=[DrillStatus.SCHEDULED, DrillStatus.RUNNING, DrillStatus.FINISHED],
    ).exists()
