"""Where alerts for the dedup key of a merged incident go: the incident it was merged into.

Read by the two places that look up "the open incident for (service, dedup_key)":
``services.open_incident`` (probes, heartbeats, the API) and ``ingest.applying`` (webhooks).
Both ask for their own open incident first; only when there is none do they follow an alias.
"""

from __future__ import annotations

from incidents.models import OPEN_STATUSES, DedupAlias, Incident


def locked_open_target(*, service_id: int, dedup_key: str) -> Incident | None:
    """The open incident ``dedup_key`` was merged into, locked (``select_for_update``); None
    when the key has no alias or its incident has been resolved since."""
    if not dedup_key:
        return None
    target_id = (
        DedupAlias.objects.filter(service_id=service_id, dedup_key=dedup_key)
        .values_list("incident_id", flat=True)
        .first()
    )
    if target_id is None:
        return None
    return (
        Incident.objects.select_for_update().filter(pk=target_id, status__in=OPEN_STATUSES).first()
    )


def fingerprints_of(*, service_id: int, dedup_key: str) -> list[str]:
    """The alerts that were moved with ``dedup_key`` when its incident was merged."""
    return list(
        DedupAlias.objects.filter(service_id=service_id, dedup_key=dedup_key)
        .values_list("fingerprints", flat=True)
        .first()
        or []
    )
