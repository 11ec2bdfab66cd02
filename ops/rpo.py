"""The RPO guard: each service's recovery point objective against the age of its last good
backup, as reported by the heartbeats marked as its backup jobs.

When the age passes the RPO an incident opens ("RPO at risk: last good backup 7 h ago, RPO
4 h"); when a backup succeeds again it resolves. The incident carries the data-loss window
(last good backup -> the backup that ended the risk) for its post-mortem. Safe to run twice at
once: opening goes through the core's dedup (partial unique index on service + key), resolving
through its state check.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.errors import InvalidTransition
from incidents.models import OPEN_STATUSES, Incident, Source
from monitoring.models import PingKind
from ops.models import BackupJob

log = logging.getLogger(__name__)
GUARD = Actor.system("RPO guard")


def human(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 72 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def _last_good(jobs: list[BackupJob]) -> dict[int, datetime | None]:
    rows = (
        BackupJob.objects.filter(pk__in=[j.pk for j in jobs])
        .annotate(
            last_good=Max("heartbeat__pings__at", filter=Q(heartbeat__pings__kind=PingKind.SUCCESS))
        )
        .values_list("pk", "last_good")
    )
    return dict(rows)


def check_all(*, now: datetime | None = None) -> dict:
    """Open or resolve the RPO incident of every backup job whose service has an RPO."""
    now = now or timezone.now()
    jobs = list(
        BackupJob.objects.select_related("heartbeat", "heartbeat__service")
        .filter(heartbeat__service__rpo_minutes__isnull=False)
        .order_by("pk")
    )
    last_good = _last_good(jobs)
    open_by_key = {
        i.dedup_key: i
        for i in Incident.objects.filter(
            dedup_key__in=[j.dedup_key for j in jobs], status__in=OPEN_STATUSES
        )
    }
    opened = resolved = 0
    for job in jobs:
        try:
            changed = check_job(job, last_good.get(job.pk), open_by_key.get(job.dedup_key), now)
        except Exception:  # one broken job must not stop the guard for the others
            log.exception("RPO check of backup job %s failed", job.pk)
            continue
        opened += changed == "opened"
        resolved += changed == "resolved"
    return {"jobs": len(jobs), "opened": opened, "resolved": resolved}


def check_job(job: BackupJob, last_good: datetime | None, incident, now: datetime) -> str:
    service = job.heartbeat.service
    rpo = timedelta(minutes=service.rpo_minutes)
    since = last_good or job.created_at
    age = now - since
    what = job.what or job.heartbeat.name
    if age > rpo:
        if incident is not None:
            return "still at risk"
        ago = f"{human(age)} ago" if last_good else f"never (watched for {human(age)})"
        incident_services.open_incident(
            service=service,
            title=f"RPO at risk: last good backup {ago}, RPO {human(rpo)}",
            severity=settings.RPO_GUARD_SEVERITY,
            actor=GUARD,
            summary=f"The backup job {what!r} (heartbeat {job.heartbeat.name}) has not reported "
            f"a good backup since {since:%Y-%m-%d %H:%M} UTC; the service's RPO is {human(rpo)}. "
            "Data written since then would be lost in a restore.",
            dedup_key=job.dedup_key,
            source=Source.SYSTEM,
            data={
                "rpo_minutes": service.rpo_minutes,
                "last_good_backup_at": last_good.isoformat() if last_good else None,
                "heartbeat_id": job.heartbeat_id,
            },
        )
        return "opened"
    if incident is not None and last_good is not None:
        try:
            incident_services.resolve(
                incident=incident,
                actor=GUARD,
                note=f"a good backup arrived at {last_good:%Y-%m-%d %H:%M} UTC; "
                f"the last good backup is {human(age)} old, within the RPO of {human(rpo)}",
            )
        except InvalidTransition:
            return "unchanged"  # resolved meanwhile by someone else
        return "resolved"
    return "within RPO"


def data_loss_window(incident) -> tuple[datetime | None, datetime | None]:
    """For an RPO incident: from the last good backup before it opened to the next good backup,
    the one that ended the risk (None when it is no RPO incident or either is missing)."""
    if not incident.dedup_key.startswith("rpo:"):
        return None, None
    from monitoring.models import HeartbeatPing

    heartbeat_id = int(incident.dedup_key.split(":", 1)[1])
    pings = HeartbeatPing.objects.filter(heartbeat_id=heartbeat_id, kind=PingKind.SUCCESS)
    before = pings.filter(at__lte=incident.triggered_at).aggregate(m=Max("at"))["m"]
    if before is None:
        return None, None
    until = pings.filter(at__gt=before).order_by("at").values_list("at", flat=True).first()
    return before, until
