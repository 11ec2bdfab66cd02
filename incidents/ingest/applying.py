"""Turn a normalized delivery into alerts and incidents.

Locking: the incident row is locked (``select_for_update``) before its alerts are read or
written, so two deliveries for the same group serialise there, and "all alerts resolved" is
decided by whoever holds the lock. Creating the incident is left to ``open_incident``, whose
partial unique index decides races between first deliveries.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.db.models import F
from django.utils import timezone

from incidents import aliases, services, suppression
from incidents.actors import Actor
from incidents.ingest.payload import as_datetime, storable
from incidents.models import (
    OPEN_STATUSES,
    Alert,
    AlertStatus,
    Incident,
    Integration,
    Source,
    Status,
)

log = logging.getLogger(__name__)


def actor_for(integration: Integration) -> Actor:
    return Actor.integration(f"{integration.name} ({integration.kind})")


def _locked_open_incident(integration: Integration, key: str) -> Incident | None:
    """The open incident of ``key``, or the open one it was merged into (incidents.aliases)."""
    own = (
        Incident.objects.select_for_update()
        .filter(service_id=integration.service_id, dedup_key=key, status__in=OPEN_STATUSES)
        .first()
    )
    return own or aliases.locked_open_target(service_id=integration.service_id, dedup_key=key)


def apply_normalized(*, integration: Integration, normalized: dict) -> Incident | None:
    """Apply one delivery. Returns the incident it touched, or None when it was dropped.

    Must run inside a transaction (the callers own it, with a savepoint per event): the locks
    taken here are held until that transaction ends.
    """
    action = normalized["action"]
    key = normalized["incident_key"]
    actor = actor_for(integration)
    if action == "acknowledge":
        return _acknowledge(integration, key, actor)
    if action == "resolve":
        return _resolve_all(integration, key, actor)
    return _apply_alerts(integration, normalized, actor)


def _acknowledge(integration: Integration, key: str, actor: Actor) -> Incident | None:
    incident = _locked_open_incident(integration, key)
    if incident is None:
        return None  # PagerDuty drops acknowledgements of unknown or resolved keys
    if incident.status == Status.TRIGGERED:
        incident = services.acknowledge(incident=incident, actor=actor)
    return incident


def _resolve_all(integration: Integration, key: str, actor: Actor) -> Incident | None:
    incident = _locked_open_incident(integration, key)
    if incident is None:
        return None
    now = timezone.now()
    if incident.dedup_key != key:
        # The key's incident was merged into this one: the sender resolves its own alerts, and
        # the incident only once nothing else in it is firing.
        moved = aliases.fingerprints_of(service_id=integration.service_id, dedup_key=key)
        incident.alerts.filter(
            integration=integration, fingerprint__in=moved, status=AlertStatus.FIRING
        ).update(status=AlertStatus.RESOLVED, resolved_at=now, last_seen_at=now, ends_at=now)
        if (
            not integration.auto_resolve
            or incident.alerts.filter(status=AlertStatus.FIRING).exists()
        ):
            return incident
    else:
        incident.alerts.filter(status=AlertStatus.FIRING).update(
            status=AlertStatus.RESOLVED, resolved_at=now, last_seen_at=now, ends_at=now
        )
    return services.resolve(incident=incident, actor=actor, note="resolve event from the sender")


def _apply_alerts(integration: Integration, normalized: dict, actor: Actor) -> Incident | None:
    key = normalized["incident_key"]
    incoming = normalized["alerts"]
    incident = _locked_open_incident(integration, key)
    opened = False
    if incident is None:
        firing = _fresh_firing(integration, key, incoming)
        if not firing:
            # Resolutions (or stale repeats) for an incident that is no longer open: the raw
            # delivery is kept, nothing else changes.
            suppression.cleared(service_id=integration.service_id, dedup_key=key)
            return None
        if suppression.suppressed(_opening(integration, normalized, firing, actor)):
            return None  # silenced (maintenance): the delivery is kept, the silence recorded
        incident, opened = services.open_incident(
            service=integration.service,
            title=normalized["title"],
            severity=max(alert["severity"] for alert in firing),
            summary=normalized.get("summary", ""),
            actor=actor,
            dedup_key=key,
            source=Source.INTEGRATION,
            data={
                "integration_id": integration.pk,
                "alerts": [alert["fingerprint"] for alert in firing][:50],
            },
        )
        if not opened:  # another delivery opened it meanwhile; open_incident locked it for us
            incident = Incident.objects.select_for_update().get(pk=incident.pk)
        incoming = [a for a in incoming if a["status"] == AlertStatus.RESOLVED] + firing

    now = timezone.now()
    # A fresh incident has no alerts yet; otherwise read the ones this delivery names.
    existing = (
        {}
        if opened
        else {
            alert.fingerprint: alert
            for alert in Alert.objects.filter(
                incident=incident, fingerprint__in=[a["fingerprint"] for a in incoming]
            )
        }
    )
    new_alerts: dict[str, dict] = {}
    plain_repeats: list[int] = []
    resolved_any = False
    for data in incoming:
        alert = existing.get(data["fingerprint"])
        if alert is None:
            if data["status"] == AlertStatus.FIRING:
                new_alerts[data["fingerprint"]] = data
        elif data["status"] == AlertStatus.FIRING:
            if is_plain_repeat(alert, data):
                plain_repeats.append(alert.pk)
            else:
                _refire(alert, data, now, incident, actor)
        else:
            resolved_any |= _resolve_alert(alert, data, now, incident, actor)
    if plain_repeats:
        # The common case (Alertmanager repeating the group): one UPDATE for all of them.
        Alert.objects.filter(pk__in=plain_repeats).update(count=F("count") + 1, last_seen_at=now)
    if new_alerts:
        _attach(integration, incident, list(new_alerts.values()), now, actor, quiet=opened)

    firing_severities = [a["severity"] for a in incoming if a["status"] == AlertStatus.FIRING]
    if firing_severities and max(firing_severities) > incident.severity:
        incident = services.change_severity(
            incident=incident,
            severity=max(firing_severities),
            actor=actor,
            reason="an alert arrived with a higher severity",
        )
    if (
        resolved_any
        and integration.auto_resolve
        and incident.status in OPEN_STATUSES
        and not incident.alerts.filter(status=AlertStatus.FIRING).exists()
    ):
        incident = services.resolve(
            incident=incident, actor=actor, note="all of its alerts have resolved"
        )
    return incident


def _opening(integration, normalized: dict, firing: list[dict], actor) -> suppression.Opening:
    return suppression.Opening(
        service=integration.service,
        source=Source.INTEGRATION,
        dedup_key=normalized["incident_key"],
        title=normalized["title"],
        severity=max(alert["severity"] for alert in firing),
        summary=normalized.get("summary", ""),
        actor_label=actor.label,
        replay={"integration_id": integration.pk, "normalized": normalized},
    )


def is_plain_repeat(alert: Alert, data: dict) -> bool:
    """Whether a firing delivery of an alert only repeats what the alert shows (the same
    episode: a later start means it resolved and fired again meanwhile)."""
    starts_at = as_datetime(data["starts_at"])
    return (
        alert.status == AlertStatus.FIRING
        and alert.severity == data["severity"]
        and (not data["labels"] or alert.labels == data["labels"])
        and (not data["annotations"] or alert.annotations == data["annotations"])
        and (starts_at is None or alert.starts_at is None or starts_at <= alert.starts_at)
    )


def _fresh_firing(integration: Integration, key: str, incoming: list[dict]) -> list[dict]:
    """Firing alerts that are not late copies of an episode we have already seen resolve.

    Alertmanager in HA mode sends duplicates; a lagging peer can repeat "firing" after the
    other one reported the resolution. Same fingerprint and same startsAt means the same
    episode: it must not open a new incident. A new episode has a new startsAt.
    """
    firing = [a for a in incoming if a["status"] == AlertStatus.FIRING]
    dated = {a["fingerprint"]: a["starts_at"] for a in firing if a["starts_at"]}
    if not dated:
        return firing
    resolved = set(
        Alert.objects.filter(
            incident__service_id=integration.service_id,
            incident__dedup_key=key,
            fingerprint__in=list(dated),
            status=AlertStatus.RESOLVED,
            starts_at__isnull=False,
        ).values_list("fingerprint", "starts_at")
    )
    return [
        a
        for a in firing
        if not (a["starts_at"] and (a["fingerprint"], as_datetime(a["starts_at"])) in resolved)
    ]


def _attach(integration, incident, alerts: list[dict], now, actor, *, quiet: bool) -> None:
    """Create the alerts new to this incident. We hold the incident's lock, so no concurrent
    delivery can attach the same fingerprint (the unique constraint would abort us if one did,
    and the event would be retried)."""
    created = Alert.objects.bulk_create(
        [
            Alert(
                integration=integration,
                incident=incident,
                fingerprint=data["fingerprint"],
                status=AlertStatus.FIRING,
                severity=data["severity"],
                summary=data["summary"],
                labels=data["labels"],
                annotations=data["annotations"],
                details=data["details"],
                source_url=data["source_url"],
                starts_at=as_datetime(data["starts_at"]),
                first_seen_at=now,
                last_seen_at=now,
            )
            for data in alerts
        ]
    )
    if quiet:
        return  # the "opened" entry already lists them
    for alert in created:
        services.record(
            incident=incident,
            kind="alert_attached",
            actor=actor,
            at=now,
            message=f"Alert {alert.summary or alert.fingerprint} joined the incident"[:500],
            data={"alert_id": alert.pk, "fingerprint": alert.fingerprint},
        )


def _refire(alert: Alert, data: dict, now, incident, actor) -> None:
    alert.count += 1
    alert.last_seen_at = now
    alert.labels = data["labels"] or alert.labels
    alert.annotations = data["annotations"] or alert.annotations
    alert.severity = data["severity"]
    fields = ["count", "last_seen_at", "labels", "annotations", "severity"]
    starts_at = as_datetime(data["starts_at"])
    same_episode = starts_at is not None and starts_at == alert.starts_at
    if alert.status == AlertStatus.FIRING and starts_at and alert.starts_at:
        if starts_at > alert.starts_at:  # a new episode whose resolution we never received
            alert.starts_at = starts_at
            fields.append("starts_at")
    elif alert.status == AlertStatus.RESOLVED and not same_episode:
        alert.status = AlertStatus.FIRING
        alert.resolved_at = None
        alert.ends_at = None
        alert.starts_at = starts_at or alert.starts_at
        fields += ["status", "resolved_at", "ends_at", "starts_at"]
        services.record(
            incident=incident,
            kind="alert_refired",
            actor=actor,
            at=now,
            message=f"Alert {_name(data)} fired again",
            data={"alert_id": alert.pk, "fingerprint": alert.fingerprint},
        )
    alert.save(update_fields=fields)


def _resolve_alert(alert: Alert, data: dict, now, incident, actor) -> bool:
    """Mark the alert resolved; returns whether it was firing until now.

    A resolution that ended before the alert's current episode started is a late copy about
    an earlier episode (delivered by a lagging peer, or applied after the re-firing that
    followed it): it only counts as seen.
    """
    alert.last_seen_at = now
    fields = ["last_seen_at"]
    ended = as_datetime(data["ends_at"])
    stale = ended is not None and alert.starts_at is not None and ended < alert.starts_at
    if alert.status == AlertStatus.FIRING and not stale:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.ends_at = as_datetime(data["ends_at"]) or now
        fields += ["status", "resolved_at", "ends_at"]
        services.record(
            incident=incident,
            kind="alert_resolved",
            actor=actor,
            at=now,
            message=f"Alert {_name(data)} resolved",
            data={"alert_id": alert.pk, "fingerprint": alert.fingerprint},
        )
        alert.save(update_fields=fields)
        return True
    alert.save(update_fields=fields)
    return False


def _name(data: dict) -> str:
    return (data.get("summary") or data["fingerprint"])[:200]


# --- deliveries that cannot be applied ---------------------------------------------------


def readable_part(*, integration: Integration, normalized: dict) -> dict:
    """The part of a delivery that is certain to apply: its key, title, and per alert the
    fingerprint, status, severity and text, every value forced into range; times, details and
    links left out (the raw body keeps them)."""
    alerts = []
    for data in normalized.get("alerts") or []:
        if not isinstance(data, dict):
            continue
        severity = data.get("severity")
        if not isinstance(severity, int) or isinstance(severity, bool) or not 1 <= severity <= 5:
            severity = integration.default_severity
        status = data.get("status")
        alerts.append(
            {
                "fingerprint": _clean_text(data.get("fingerprint"), 255) or "unreadable",
                "status": status if status in AlertStatus.values else AlertStatus.FIRING,
                "severity": severity,
                "summary": _clean_text(data.get("summary"), 1024),
                "labels": _clean_strings(data.get("labels")),
                "annotations": _clean_strings(data.get("annotations")),
                "details": {"salvaged": True},
                "source_url": "",
                "starts_at": None,
                "ends_at": None,
            }
        )
    return {
        "incident_key": _clean_text(normalized.get("incident_key"), 255),
        "title": _clean_text(normalized.get("title"), 255) or f"Alert from {integration.name}",
        "summary": _clean_text(normalized.get("summary"), 10_000),
        "action": "alerts",
        "alerts": alerts,
    }


def salvage(*, integration: Integration, normalized: dict, event_id: int) -> Incident | None:
    """Apply what can be read of a delivery that failed every attempt, so a real alert still
    opens (or reaches) its incident. Must run inside a transaction; uses its own savepoints.

    First the readable part of the delivery; if even that fails, an incident with the
    delivery's title alone. Acknowledge/resolve events are not salvaged: doing nothing is the
    safe reading of an acknowledgement that cannot be applied.
    """
    from django.db import transaction

    if normalized.get("action") not in (None, "alerts"):
        return None
    actor = actor_for(integration)
    reduced = readable_part(integration=integration, normalized=normalized)
    attempts = [
        lambda: apply_normalized(integration=integration, normalized=reduced),
        lambda: services.open_incident(
            service=integration.service,
            title=reduced["title"],
            severity=max([a["severity"] for a in reduced["alerts"]] or [3]),
            actor=actor,
            dedup_key=reduced["incident_key"],
            source=Source.INTEGRATION,
            data={"integration_id": integration.pk},
        )[0],
    ]
    for attempt in attempts:
        try:
            with transaction.atomic():
                incident = attempt()
                if incident is not None:
                    services.record(
                        incident=incident,
                        kind="delivery_parked",
                        actor=actor,
                        message=(
                            f"A delivery from {integration.name} could not be applied in full; "
                            f"what could be read was applied (inbound event {event_id} is "
                            "parked with its raw body)"
                        )[:500],
                        data={"event_id": event_id},
                    )
                return incident
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            log.exception("salvaging inbound event %s failed", event_id)
    return None


def _clean_text(value, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return storable(value)[:limit].strip()


def _clean_strings(value) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {
        _clean_text(k, 256): _clean_text(v, 8192)
        for k, v in list(value.items())[:200]
        if isinstance(k, str) and isinstance(v, str)
    }
