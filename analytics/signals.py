"""The stored first signal of resolved incidents (``IncidentSignal``), kept by the incident
events and backfilled by ``manage.py analytics_signals``.

The report reads the stored value where it was computed for the incident's current
resolution and computes the rest live with the same SQL (``metrics.live_signal``), so a
missing or outdated row costs time, never a wrong figure.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q

from analytics.models import IncidentSignal
from incidents.models import Incident, Status

BATCH = 2000


def _stale_or_missing():
    return Incident.objects.filter(status=Status.RESOLVED, resolved_at__isnull=False).filter(
        Q(analytics_signal__isnull=True) | ~Q(analytics_signal__resolved_at=F("resolved_at"))
    )


def remember(incident_ids: Iterable[int] | None = None, *, batch: int = BATCH) -> int:
    """Store the first signal of resolved incidents lacking an up-to-date row (the given ones,
    or all). Returns how many rows were written."""
    from analytics.metrics import live_signals

    queryset = _stale_or_missing()
    if incident_ids is not None:
        queryset = queryset.filter(pk__in=list(incident_ids))
    written = 0
    last = 0
    while True:
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return written
        rows = [
            IncidentSignal(incident_id=pk, first_signal_epoch=signal, resolved_at=resolved_at)
            for pk, signal, resolved_at in live_signals(ids)
        ]
        IncidentSignal.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["incident"],
            update_fields=["first_signal_epoch", "resolved_at", "computed_at"],
        )
        written += len(rows)
        last = ids[-1]


def on_resolved(sender=None, *, incident_id: int, **details) -> None:
    remember([incident_id])
