"""/metrics: openings silenced by maintenance windows, counted from their records."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Sum
from prometheus_client.core import CounterMetricFamily, Metric

from monitoring.metrics import register_metric_source
from statuspage.models import SuppressedOpening


@register_metric_source
def suppressed_openings() -> Iterable[Metric]:
    family = CounterMetricFamily(
        "vigil_maintenance_suppressed_openings",
        "Incident openings (alerts, probe and heartbeat failures) silenced by maintenance.",
        labels=["source"],
    )
    rows = SuppressedOpening.objects.values("source").annotate(total=Sum("count"))
    for row in rows.order_by("source"):
        family.add_metric([row["source"]], row["total"] or 0)
    yield family
