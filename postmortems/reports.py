"""The manager review page: post-mortems by status, missed objectives, cost, overdue items.

Measured from plain column values (one query, no model instances), so the page stays fast with
thousands of post-mortems; the lists show the most recent rows and say how many there are.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Cast, Coalesce, Extract, Least, TruncQuarter
from django.utils import timezone

from postmortems.facts import MISSED, MeasuredFacts, measure_times
from postmortems.models import ActionItem, PostMortem, Status

LIST_LIMIT = 50
# Cost per quarter covers this many past days (eight quarters).
COST_WINDOW_DAYS = 730

_COLUMNS = (
    "pk",
    "title",
    "status",
    "submitted_at",
    "impact_started_at",
    "data_loss_from",
    "data_loss_until",
    "incident__triggered_at",
    "incident__acknowledged_at",
    "incident__mitigated_at",
    "incident__resolved_at",
    "incident__service__rto_minutes",
    "incident__service__rpo_minutes",
    "incident__service__downtime_cost_per_hour",
)


@dataclass
class ReviewRow:
    pk: int
    title: str
    status: str
    submitted_at: datetime | None
    facts: MeasuredFacts
    cost_per_hour: Decimal = Decimal(0)


@dataclass
class ReviewReport:
    by_status: dict[str, int]
    awaiting_review: list[ReviewRow]
    missed_rto: list[ReviewRow]
    missed_rto_count: int
    missed_rpo: list[ReviewRow]
    missed_rpo_count: int
    cost_by_quarter: list[tuple[str, Decimal, int]]
    overdue_items: list[ActionItem]
    overdue_count: int


def quarter_of(moment) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _row(values: tuple) -> ReviewRow:
    v = dict(zip(_COLUMNS, values, strict=True))
    return ReviewRow(
        pk=v["pk"],
        title=v["title"],
        status=v["status"],
        submitted_at=v["submitted_at"],
        facts=measure_times(
            impact_started_at=v["impact_started_at"],
            triggered_at=v["incident__triggered_at"],
            acknowledged_at=v["incident__acknowledged_at"],
            mitigated_at=v["incident__mitigated_at"],
            resolved_at=v["incident__resolved_at"],
            data_loss_from=v["data_loss_from"],
            data_loss_until=v["data_loss_until"],
            rto_minutes=v["incident__service__rto_minutes"],
            rpo_minutes=v["incident__service__rpo_minutes"],
            cost_per_hour=v["incident__service__downtime_cost_per_hour"],
        ),
        cost_per_hour=v["incident__service__downtime_cost_per_hour"] or Decimal(0),
    )


def review_report(team_ids: list[int], *, now=None) -> ReviewReport:
    now = now or timezone.now()
    postmortems = PostMortem.objects.filter(team_id__in=team_ids)
    counts = {
        row["status"]: row["n"]
        for row in postmortems.order_by().values("status").annotate(n=Count("pk"))
    }
    windowed = postmortems.filter(
        incident__triggered_at__gte=now - timedelta(days=COST_WINDOW_DAYS)
    )
    if connection.vendor == "postgresql":
        missed_rto, missed_rto_count, missed_rpo, missed_rpo_count, cost_rows = _measured_in_sql(
            windowed
        )
    else:
        missed_rto, missed_rto_count, missed_rpo, missed_rpo_count, cost_rows = _measured_in_python(
            windowed
        )
    awaiting = [
        _row(values)
        for values in postmortems.filter(status=Status.IN_REVIEW)
        .order_by("submitted_at", "pk")
        .values_list(*_COLUMNS)[:LIST_LIMIT]
    ]
    overdue = ActionItem.objects.filter(postmortem__team_id__in=team_ids).overdue()
    return ReviewReport(
        by_status={s.label: counts.get(s.value, 0) for s in Status},
        awaiting_review=awaiting,
        missed_rto=missed_rto,
        missed_rto_count=missed_rto_count,
        missed_rpo=missed_rpo,
        missed_rpo_count=missed_rpo_count,
        cost_by_quarter=cost_rows,
        overdue_items=list(
            overdue.select_related("owner").order_by("due_date", "priority")[:LIST_LIMIT]
        ),
        overdue_count=overdue.count(),
    )


_NEWEST_FIRST = ("-incident__triggered_at", "-pk")


def _measured_in_python(windowed):
    """SQLite: measure every row with postmortems.facts (embedded installs are small)."""
    rows = [_row(values) for values in windowed.order_by(*_NEWEST_FIRST).values_list(*_COLUMNS)]
    cost: dict[str, Decimal] = defaultdict(Decimal)
    incidents_per_quarter: Counter = Counter()
    for row in rows:
        if row.facts.time_to_recover is not None:
            quarter = quarter_of(timezone.localtime(row.facts.resolved_at))
            # Summed unrounded, rounded once per quarter (as the SQL path does).
            hours = Decimal(row.facts.time_to_recover.total_seconds()) / Decimal(3600)
            cost[quarter] += hours * row.cost_per_hour
            incidents_per_quarter[quarter] += 1
    missed_rto = [r for r in rows if r.facts.rto.state == MISSED]
    missed_rpo = [r for r in rows if r.facts.rpo.state == MISSED]
    cost_rows = sorted(
        (
            (q, c.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), incidents_per_quarter[q])
            for q, c in cost.items()
        ),
        reverse=True,
    )
    return (
        missed_rto[:LIST_LIMIT],
        len(missed_rto),
        missed_rpo[:LIST_LIMIT],
        len(missed_rpo),
        cost_rows,
    )


def _measured_in_sql(windowed):
    """PostgreSQL: the same definitions as postmortems.facts, evaluated by the database, so the
    page reads a count and a few rows instead of every post-mortem of two years."""
    triggered = F("incident__triggered_at")
    start = Least(Coalesce("impact_started_at", triggered), triggered)
    recover = ExpressionWrapper(F("incident__resolved_at") - start, output_field=DurationField())
    minute = Value(timedelta(minutes=1), output_field=DurationField())
    rto = ExpressionWrapper(
        F("incident__service__rto_minutes") * minute, output_field=DurationField()
    )
    rpo = ExpressionWrapper(
        F("incident__service__rpo_minutes") * minute, output_field=DurationField()
    )
    loss = ExpressionWrapper(
        F("data_loss_until") - F("data_loss_from"), output_field=DurationField()
    )
    resolved = windowed.filter(incident__resolved_at__isnull=False)
    missed_rto = (
        resolved.filter(incident__service__rto_minutes__isnull=False)
        .annotate(recover=recover, target=rto)
        .filter(recover__gt=F("target"))
    )
    missed_rpo = (
        windowed.filter(
            incident__service__rpo_minutes__isnull=False,
            data_loss_from__isnull=False,
            data_loss_until__isnull=False,
        )
        .annotate(loss=loss, target=rpo)
        .filter(loss__gt=F("target"))
    )
    hours = ExpressionWrapper(Extract(recover, "epoch") / Value(3600.0), output_field=FloatField())
    per_quarter = (
        resolved.annotate(quarter=TruncQuarter("incident__resolved_at"))
        .order_by()
        .values("quarter")
        .annotate(
            n=Count("pk"),
            cost=Sum(
                ExpressionWrapper(
                    Cast(hours, DecimalField(max_digits=20, decimal_places=6))
                    * F("incident__service__downtime_cost_per_hour"),
                    output_field=DecimalField(max_digits=24, decimal_places=6),
                )
            ),
        )
    )
    cost_rows = sorted(
        (
            (
                quarter_of(timezone.localtime(row["quarter"])),
                Decimal(row["cost"] or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                row["n"],
            )
            for row in per_quarter
        ),
        reverse=True,
    )
    rto_rows, rto_total = _latest_with_total(missed_rto)
    rpo_rows, rpo_total = _latest_with_total(missed_rpo)
    return rto_rows, rto_total, rpo_rows, rpo_total, cost_rows


def _latest_with_total(queryset) -> tuple[list[ReviewRow], int]:
    """The newest rows and the size of the whole set, in one query (a window count)."""
    values = list(
        queryset.annotate(total=Window(Count("pk")))
        .order_by(*_NEWEST_FIRST)
        .values_list(*_COLUMNS, "total")[:LIST_LIMIT]
    )
    return [_row(v[:-1]) for v in values], (values[0][-1] if values else 0)
