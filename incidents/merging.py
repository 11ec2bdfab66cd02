"""Merging a duplicate incident into the one the team keeps working in.

``merge_incidents(target=..., source=...)`` moves the duplicate's alerts, notes and timeline
into the target, resolves the duplicate ("Duplicate of INC-9"), points its dedup key at the
target (incidents.aliases: new alerts for it land there) and announces ``incident_merged``,
on which the escalation engine stops the duplicate's escalation (once: ``stop_escalation`` is a
no-op on a stopped escalation, and the outbox row is claimed before the receiver runs).

Why the timeline is copied, not moved: timeline entries are append-only (a PostgreSQL trigger
refuses UPDATE), so an entry cannot change incident. Referencing the duplicate's entries from
the target instead would make every reader of a timeline (room, API, post-mortem drafting,
exports) learn to follow merges. So each entry of the duplicate is copied into the target as a
new row of kind ``merged_entry`` that keeps its time, actor and message and names its origin in
``data`` (``merged_from``, ``original_kind``, ``original_id``). The distinct kind matters: code
that reads the timeline by kind ("opened", "escalation_level") must not mistake a copy for
something that happened to the target. The duplicate keeps its own history untouched.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from incidents import events
from incidents.actors import Actor
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.models import (
    OPEN_STATUSES,
    Alert,
    AlertStatus,
    DedupAlias,
    Incident,
    IncidentMerge,
    Status,
    TimelineEntry,
)
from incidents.services import record

# A storm incident can hold a very long history of repeats; beyond this many entries the
# newest are copied and the merged entry says where the rest is.
MAX_COPIED_ENTRIES = 5_000
# Alerts remembered per alias, for a sender's "resolve" of the merged key.
MAX_ALIAS_FINGERPRINTS = 1_000
COPY_BATCH = 1_000


class MergeRefused(InvalidTransition):
    """The two incidents cannot be merged (409); the message says why."""

    code = "merge_refused"


def _refuse_unless_mergeable(source: Incident, target: Incident) -> None:
    what = f"cannot merge {source.reference} into {target.reference}"
    if source.team_id != target.team_id:
        raise MergeRefused(
            f"{what}: they belong to different teams; only incidents of one team can be merged"
        )
    merged = IncidentMerge.objects.filter(source=source).values_list("target_id", flat=True).first()
    if merged is not None:
        raise MergeRefused(f"{what}: it was already merged into INC-{merged}")
    for incident in (source, target):
        if incident.status not in OPEN_STATUSES:
            raise MergeRefused(
                f"{what}: {incident.reference} is resolved; only open incidents can be merged"
                + (" (reopen it first)" if incident is target else "")
            )
    if source.is_drill != target.is_drill:
        raise MergeRefused(f"{what}: a drill incident cannot be merged with a real one")


def _locked_pair(source: Incident, target: Incident) -> tuple[Incident, Incident]:
    # Always lock in id order: two people merging A into B and B into A cannot deadlock.
    rows = {
        row.pk: row
        for row in Incident.objects.select_for_update()
        .select_related("team")
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    return rows[source.pk], rows[target.pk]


def _move_alerts(source: Incident, target: Incident) -> tuple[int, list[str]]:
    """Move the duplicate's alerts to the target. An alert the target already has (same
    fingerprint: one alert per fingerprint in an incident) is folded into the target's."""
    fingerprints = list(source.alerts.values_list("fingerprint", flat=True))
    clashing = set(
        Alert.objects.filter(incident=target, fingerprint__in=fingerprints).values_list(
            "fingerprint", flat=True
        )
    )
    for duplicate in Alert.objects.filter(incident=source, fingerprint__in=clashing):
        kept = Alert.objects.select_for_update().get(
            incident=target, fingerprint=duplicate.fingerprint
        )
        kept.count = F("count") + duplicate.count
        kept.first_seen_at = min(kept.first_seen_at, duplicate.first_seen_at)
        kept.last_seen_at = max(kept.last_seen_at, duplicate.last_seen_at)
        fields = ["count", "first_seen_at", "last_seen_at"]
        if duplicate.status == AlertStatus.FIRING and kept.status != AlertStatus.FIRING:
            kept.status, kept.resolved_at, kept.ends_at = AlertStatus.FIRING, None, None
            fields += ["status", "resolved_at", "ends_at"]
        kept.save(update_fields=fields)
        duplicate.delete()
    moved = Alert.objects.filter(incident=source).update(incident=target)
    return moved + len(clashing), fingerprints


def _copy_timeline(source: Incident, target: Incident) -> tuple[int, int]:
    """Copy the duplicate's entries into the target (see the module docstring for why).
    Returns (copied, total)."""
    total = TimelineEntry.objects.filter(incident=source).count()
    newest = (
        TimelineEntry.objects.filter(incident=source)
        .order_by("-at", "-id")
        .values("id", "at", "kind", "actor_kind", "actor_user_id", "actor_label", "message", "data")
    )[:MAX_COPIED_ENTRIES]
    batch: list[TimelineEntry] = []
    copied = 0
    for row in newest.iterator(chunk_size=COPY_BATCH):
        batch.append(
            TimelineEntry(
                incident=target,
                at=row["at"],
                kind="merged_entry",
                actor_kind=row["actor_kind"],
                actor_user_id=row["actor_user_id"],
                actor_label=row["actor_label"],
                message=row["message"],
                data={
                    "merged_from": source.pk,
                    "original_kind": row["kind"],
                    "original_id": row["id"],
                    "original_data": row["data"],
                },
            )
        )
        if len(batch) >= COPY_BATCH:
            copied += len(TimelineEntry.objects.bulk_create(batch))
            batch = []
    if batch:
        copied += len(TimelineEntry.objects.bulk_create(batch))
    return copied, total


def _point_dedup_key_at(source: Incident, target: Incident, fingerprints: list[str], now) -> None:
    # Keys already pointing at the duplicate (it was a merge target before) follow it.
    DedupAlias.objects.filter(incident=source).update(incident=target)
    if source.dedup_key:
        DedupAlias.objects.update_or_create(
            service_id=source.service_id,
            dedup_key=source.dedup_key,
            defaults={
                "incident": target,
                "fingerprints": fingerprints[:MAX_ALIAS_FINGERPRINTS],
                "created_at": now,
            },
        )


@transaction.atomic
def merge_incidents(*, target: Incident, source: Incident, actor: Actor) -> IncidentMerge:
    """Merge ``source`` (the duplicate) into ``target``. Both must be open, of one team, and
    both drills or both real. Locks both rows (in id order) for the whole merge."""
    if source.pk == target.pk:
        raise InvalidIncidentInput(f"cannot merge {target.reference} into itself")
    source, target = _locked_pair(source, target)
    _refuse_unless_mergeable(source, target)
    now = timezone.now()

    alerts_moved, fingerprints = _move_alerts(source, target)
    copied, total = _copy_timeline(source, target)
    _point_dedup_key_at(source, target, fingerprints, now)
    merge = IncidentMerge.objects.create(
        source=source,
        target=target,
        merged_at=now,
        merged_by=actor.user_or_none,
        actor_label=actor.label[:150],
        alerts_moved=alerts_moved,
        entries_copied=copied,
    )

    source.status = Status.RESOLVED
    source.resolved_at = now
    source.resolved_by = actor.user_or_none
    source.resolution_note = f"Duplicate of {target.reference}"
    source.updated_at = now
    source.save(
        update_fields=["status", "resolved_at", "resolved_by", "resolution_note", "updated_at"]
    )
    target.last_seen_at = max(target.last_seen_at, source.last_seen_at)
    target.updated_at = now
    target.save(update_fields=["last_seen_at", "updated_at"])

    details = {"source_id": source.pk, "target_id": target.pk, "alerts_moved": alerts_moved}
    record(
        incident=source,
        kind="merged",
        actor=actor,
        at=now,
        message=f"Merged into {target.reference} by {actor}: resolved as a duplicate; its alerts, "
        f"notes and timeline continue there",
        data=details,
    )
    left = f"; the {total - copied} oldest stay on {source.reference}" if total > copied else ""
    record(
        incident=target,
        kind="merged",
        actor=actor,
        at=now,
        message=f"{source.reference} ({source.title}) merged into this incident by {actor}: "
        f"{alerts_moved} alert(s) and {copied} timeline entries moved here{left}",
        data={**details, "entries_copied": copied},
    )
    audit.record(
        action="incident.merged",
        actor=actor,
        team=target.team_id,
        target=target.reference,
        data={"incident_id": target.pk, **details},
    )
    events.announce(events.incident_merged, incident_id=source.pk, into_id=target.pk)
    return merge
