"""Apply a claimed batch of deliveries group by group, in sets, new outages first.

Storm traffic is mostly repeats: the same Alertmanager group re-sent while its incident is
open. Applying each one alone costs a lock, a read and a write per delivery. Here a batch is
first sorted into groups (one per service and dedup key); a group is applied under one lock of
its incident, its events in the order of their own timestamps (not of arrival: two deliveries
of one group that reached different web processes may be stored in either order; see
``in_sender_order``), and every
delivery that only repeats what the incident already shows becomes an increment of a counter.
The counters of the whole batch are written with one multi-row UPDATE at the end, the event
rows with another. A delivery that changes something (opens, resolves, re-fires, raises the
severity, carries new alerts) goes through ``apply_normalized`` exactly as it would alone, in
its own savepoint.

Groups without an open incident (deliveries that will open one) are applied before the others,
and when a batch holds both, the new ones are committed in a transaction of their own first, so
their pages leave before the repeats are counted.

Lock order: opening groups by key (their inserts meet on the partial unique index), then the
open incidents of the repeating groups, all in one ``SELECT ... FOR UPDATE`` ordered by id.
Two workers holding events of the same groups still wait for each other only briefly; in the
rare case where their classification of a key differs and PostgreSQL reports a deadlock, the
loser's batch rolls back whole and is claimed again (nothing was marked applied).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from incidents.ingest.applying import apply_normalized, is_plain_repeat, salvage
from incidents.ingest.payload import as_datetime
from incidents.models import OPEN_STATUSES, Alert, AlertStatus, InboundEvent, Incident

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5

GroupKey = tuple[int, str]  # (service id, dedup key)
# What deciding "plain repeat" reads of an alert.
_ALERT_FIELDS = (
    "pk", "incident_id", "fingerprint", "status", "severity", "labels", "annotations", "starts_at",
)  # fmt: skip


@dataclass
class _Group:
    key: GroupKey
    events: list[InboundEvent]
    incident: Incident | None = None  # the open incident, locked, once known
    alerts: dict[str, Alert] | None = None  # its alerts by fingerprint, None when not loaded


@dataclass
class _Outcome:
    applied: list[InboundEvent] = field(default_factory=list)
    failed: list[InboundEvent] = field(default_factory=list)
    # alert id -> (times fired again, last seen); firing repeats add to the count
    counted: dict[int, list] = field(default_factory=dict)
    touched: dict[int, datetime] = field(default_factory=dict)  # alert id -> last seen only


def claim(*, limit: int, ids: list[int] | None = None) -> list[InboundEvent]:
    """Lock up to ``limit`` pending events (SKIP LOCKED): urgent ones first, then by arrival.

    ``ids`` restricts the claim to those events (the second half of a split batch).
    """

    def pending():
        # Lock the event rows only ("of self"): locking the joined integration row would block
        # every web request inserting an event for it (their foreign-key check shares it).
        qs = (
            InboundEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("integration__service")
            .filter(processed_at__isnull=True, attempts__lt=MAX_ATTEMPTS)
            .order_by("id")
        )
        return qs.filter(pk__in=ids) if ids is not None else qs

    if ids is not None:
        return list(pending())
    events = list(pending().filter(urgent=True)[:limit])
    if len(events) < limit:
        events += list(pending().filter(urgent=False)[: limit - len(events)])
    return events


def episode_start(event: InboundEvent) -> datetime | None:
    """The latest start among a delivery's alerts, by the sender's clock: deliveries about a
    later episode of a group carry a later start. None when the delivery carries no start."""
    latest = None
    for data in _alerts_of(event.normalized):
        try:
            moment = as_datetime(data.get("starts_at"))
        except (TypeError, ValueError):
            continue  # unreadable: applying the delivery will say so
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment, UTC)
        if moment is not None and (latest is None or moment > latest):
            latest = moment
    return latest


def in_sender_order(events: list[InboundEvent]) -> list[InboundEvent]:
    """One group's events in the order the sender produced them, as far as its timestamps
    tell: by episode start, arrival order within an episode (repeats of one episode carry the
    same start; only their order of arrival tells them apart). A delivery without a start keeps
    its place after the one that arrived before it."""
    keyed, current = [], datetime.min.replace(tzinfo=UTC)
    for event in sorted(events, key=lambda e: e.pk):
        current = episode_start(event) or current
        keyed.append((current, event.pk, event))
    return [event for _, _, event in sorted(keyed, key=lambda k: (k[0], k[1]))]


def _alerts_of(normalized) -> list[dict]:
    alerts = normalized.get("alerts") if isinstance(normalized, dict) else None
    return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []


def _key_of(event: InboundEvent) -> GroupKey:
    normalized = event.normalized if isinstance(event.normalized, dict) else {}
    return (event.integration.service_id, str(normalized.get("incident_key", "")))


def group_events(events: list[InboundEvent]) -> dict[GroupKey, _Group]:
    groups: dict[GroupKey, _Group] = {}
    for event in events:
        key = _key_of(event)
        groups.setdefault(key, _Group(key=key, events=[])).events.append(event)
    for group in groups.values():
        group.events = in_sender_order(group.events)
    return groups


def open_incident_ids(keys: list[GroupKey]) -> dict[GroupKey, int]:
    """The open incident of each key, in one query (no lock)."""
    if not keys:
        return {}
    condition = Q()
    by_service: dict[int, list[str]] = defaultdict(list)
    for service_id, key in keys:
        by_service[service_id].append(key)
    for service_id, names in by_service.items():
        condition |= Q(service_id=service_id, dedup_key__in=names)
    rows = Incident.objects.filter(condition, status__in=OPEN_STATUSES).values_list(
        "service_id", "dedup_key", "pk"
    )
    return {(service_id, key): pk for service_id, key, pk in rows}


def apply_groups(groups: list[_Group], *, open_ids: dict[GroupKey, int]) -> _Outcome:
    """Apply the groups inside the caller's transaction; the caller writes the outcome."""
    outcome = _Outcome()
    opening = sorted((g for g in groups if g.key not in open_ids), key=lambda g: g.key)
    repeating = [g for g in groups if g.key in open_ids]
    for group in opening:
        _apply_group(group, outcome)
    if repeating:
        locked = {
            incident.pk: incident
            for incident in Incident.objects.select_for_update()
            .filter(pk__in=[open_ids[g.key] for g in repeating])
            .order_by("pk")
        }
        _load_alerts(repeating, locked, open_ids)
        for group in sorted(repeating, key=lambda g: open_ids[g.key]):
            _apply_group(group, outcome)
    return outcome


def _load_alerts(groups: list[_Group], locked: dict[int, Incident], open_ids) -> None:
    """Attach each group's locked incident and the alerts its events name (one query)."""
    fingerprints = {
        data["fingerprint"]
        for group in groups
        for event in group.events
        for data in _alerts_of(event.normalized)
        if isinstance(data.get("fingerprint"), str)
    }
    by_incident: dict[int, dict[str, Alert]] = defaultdict(dict)
    for alert in Alert.objects.filter(
        incident_id__in=list(locked), fingerprint__in=list(fingerprints)
    ).only(*_ALERT_FIELDS):
        by_incident[alert.incident_id][alert.fingerprint] = alert
    for group in groups:
        incident = locked.get(open_ids[group.key])
        if incident is not None and incident.status in OPEN_STATUSES:
            group.incident = incident
            group.alerts = by_incident.get(incident.pk, {})


def _reload(group: _Group, incident: Incident | None) -> None:
    """After a delivery changed the group's incident: read its alerts again (we hold its lock)."""
    if incident is None or incident.status not in OPEN_STATUSES:
        group.incident, group.alerts = None, None
        return
    group.incident = incident
    group.alerts = {
        alert.fingerprint: alert
        for alert in Alert.objects.filter(incident=incident).only(*_ALERT_FIELDS)
    }


def _apply_group(group: _Group, outcome: _Outcome) -> None:
    now = timezone.now()
    for event in group.events:
        event.attempts += 1
        try:
            repeat = _plain_repeat(group, event.normalized)
        except (KeyError, TypeError, AttributeError):
            repeat = None  # a malformed delivery: applying it alone records why it fails
        if repeat is not None:
            for alert, firing in repeat:
                if firing:
                    outcome.counted.setdefault(alert.pk, [0, now])[0] += 1
                else:
                    outcome.touched[alert.pk] = now
            event.incident = group.incident
            event.processed_at = now
            outcome.applied.append(event)
            continue
        try:
            with transaction.atomic():
                event.incident = apply_normalized(
                    integration=event.integration, normalized=event.normalized
                )
        except Exception as exc:
            if _is_database_outage(exc):
                raise
            log.exception("applying inbound event %s failed", event.pk)
            event.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if event.attempts >= MAX_ATTEMPTS:
                # Stop retrying, loudly: park the delivery for a human (admin, /metrics) and
                # apply what can be read of it, so its alert still opens an incident.
                event.processed_at = event.parked_at = now
                event.incident = salvage(
                    integration=event.integration, normalized=event.normalized, event_id=event.pk
                )
                log.error("inbound event %s parked after %s attempts", event.pk, MAX_ATTEMPTS)
            outcome.failed.append(event)
            group.incident, group.alerts = None, None  # read again by the next delivery
            continue
        event.processed_at = now
        outcome.applied.append(event)
        _reload(group, event.incident)


def _plain_repeat(group: _Group, normalized: dict) -> list[tuple[Alert, bool]] | None:
    """The alerts a delivery only repeats, or None when applying it would change more.

    A repeat names alerts the open incident already has, each firing with the same severity,
    labels and annotations, or resolved and already resolved (alerts it reports resolved that
    the incident never had change nothing either), and raises no severity. ``apply_normalized``
    would do nothing with it but add one to the firing alerts' counts and touch last-seen times.
    """
    if group.alerts is None or group.incident is None or normalized.get("action") != "alerts":
        return None
    hits = []
    for data in normalized["alerts"]:
        alert = group.alerts.get(data["fingerprint"])
        if data["status"] == AlertStatus.FIRING:
            if alert is None or not is_plain_repeat(alert, data):
                return None
            if data["severity"] > group.incident.severity:
                return None
            hits.append((alert, True))
        elif alert is not None:
            if alert.status == AlertStatus.FIRING:
                return None
            hits.append((alert, False))
    return hits


def _is_database_outage(exc: BaseException) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


# --- writing a batch's outcome in sets -----------------------------------------------------

_COUNT_ALERTS_SQL = """
UPDATE incidents_alert AS a
SET count = a.count + v.n, last_seen_at = GREATEST(a.last_seen_at, v.seen)
FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[]) AS v(id, n, seen)
WHERE a.id = v.id
"""
_MARK_EVENTS_SQL = """
UPDATE incidents_inboundevent AS e
SET processed_at = v.processed, attempts = v.attempts, incident_id = v.incident
FROM unnest(%s::bigint[], %s::timestamptz[], %s::int[], %s::bigint[])
    AS v(id, processed, attempts, incident)
WHERE e.id = v.id
"""


def write_outcome(outcome: _Outcome) -> None:
    counts = [(pk, n, seen) for pk, (n, seen) in outcome.counted.items()]
    counts += [(pk, 0, seen) for pk, seen in outcome.touched.items() if pk not in outcome.counted]
    applied = outcome.applied
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if counts:
                cursor.execute(_COUNT_ALERTS_SQL, [list(col) for col in zip(*counts, strict=True)])
            if applied:
                cursor.execute(
                    _MARK_EVENTS_SQL,
                    [
                        [e.pk for e in applied],
                        [e.processed_at for e in applied],
                        [e.attempts for e in applied],
                        [e.incident_id for e in applied],
                    ],
                )
    else:
        for pk, n, seen in counts:
            Alert.objects.filter(pk=pk).update(count=F("count") + n, last_seen_at=seen)
        if applied:
            InboundEvent.objects.bulk_update(applied, ["processed_at", "attempts", "incident"])
    if outcome.failed:
        InboundEvent.objects.bulk_update(
            outcome.failed, ["processed_at", "parked_at", "attempts", "error", "incident"]
        )
