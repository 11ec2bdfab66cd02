"""Drafting a post-mortem, pre-filled from the incident."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from postmortems.models import PostMortem
from postmortems.search import refresh_search_document

log = logging.getLogger(__name__)

# Resolving an incident of this severity or higher drafts its post-mortem automatically.
AUTOMATIC_DRAFT_MIN_SEVERITY = 3
TIMELINE_SNAPSHOT_LIMIT = 500
_ALERT_KEYS = ("alerts", "labels", "commonLabels", "groupLabels", "annotations", "details")


def _timeline_snapshot(incident: Incident) -> list[dict]:
    entries = incident.timeline.select_related("actor_user").order_by("at", "id")
    return [
        {
            "at": entry.at.isoformat(),
            "kind": entry.kind,
            "actor": entry.actor_name,
            "message": entry.message,
        }
        for entry in entries[:TIMELINE_SNAPSHOT_LIMIT]
    ]


def _alerts_snapshot(incident: Incident) -> list[dict]:
    """What the alerting side told us: the opening entry's labels/alerts, and each repeat's.

    Reads timeline data only, so it works whichever integration opened the incident.
    """
    alerts = []
    for entry in incident.timeline.filter(kind__in=["opened", "repeated"]).order_by("at", "id")[
        :50
    ]:
        data = entry.data if isinstance(entry.data, dict) else {}
        picked = {k: data[k] for k in _ALERT_KEYS if k in data}
        if picked:
            alerts.append({"at": entry.at.isoformat(), "kind": entry.kind, **picked})
    return alerts


def _responders(incident: Incident) -> list:
    users = {
        entry.actor_user
        for entry in incident.timeline.filter(actor_user__isnull=False).select_related("actor_user")
    }
    for user in (incident.assignee, incident.acknowledged_by, incident.resolved_by):
        if user is not None:
            users.add(user)
    return sorted(users, key=lambda u: u.pk)


def create_draft(
    *, incident: Incident, actor: Actor, automatic: bool = False
) -> tuple[PostMortem, bool]:
    """The incident's post-mortem, drafted now if it has none. Returns ``(postmortem, created)``.

    Idempotent: the one-to-one on incident lets exactly one caller create it; a concurrent
    caller re-reads the winner's row.
    """
    existing = PostMortem.objects.filter(incident=incident).first()
    if existing is not None:
        return existing, False
    incident = Incident.objects.select_related(
        "service", "assignee", "acknowledged_by", "resolved_by"
    ).get(pk=incident.pk)
    try:
        with transaction.atomic():
            postmortem = PostMortem.objects.create(
                incident=incident,
                team_id=incident.team_id,
                title=f"{incident.reference}: {incident.title}"[:255],
                drafted_automatically=automatic,
                summary=incident.summary,
                created_by=actor.user_or_none,
                timeline_snapshot=_timeline_snapshot(incident),
                alerts_snapshot=_alerts_snapshot(incident),
            )
            postmortem.responders.set(_responders(incident))
            refresh_search_document(postmortem.pk)
            incident_services.record(
                incident=incident,
                kind="postmortem_drafted",
                actor=actor,
                message=f"Post-mortem drafted{' automatically' if automatic else f' by {actor}'}",
                data={"postmortem_id": postmortem.pk, "automatic": automatic},
            )
    except IntegrityError:
        return PostMortem.objects.get(incident=incident), False
    return postmortem, True


def draft_on_resolve(*, incident_id: int) -> PostMortem | None:
    """Receiver side of incident_resolved: severity 3 and up get a draft; drills do not."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or incident.is_drill or incident.severity < AUTOMATIC_DRAFT_MIN_SEVERITY:
        return None
    postmortem, _ = create_draft(
        incident=incident, actor=Actor.system("post-mortems"), automatic=True
    )
    return postmortem
