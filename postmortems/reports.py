"""The manager review page: post-mortems by status, missed objectives, cost, overdue items."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from postmortems.facts import MISSED, MeasuredFacts, measure
from postmortems.models import ActionItem, PostMortem, Status


@dataclass
class ReviewRow:
    postmortem: PostMortem
    facts: MeasuredFacts


@dataclass
class ReviewReport:
    by_status: dict[str, int]
    awaiting_review: list[PostMortem]
    missed_rto: list[ReviewRow]
    missed_rpo: list[ReviewRow]
    cost_by_quarter: list[tuple[str, Decimal, int]]
    overdue_items: list[ActionItem]


def quarter_of(moment) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def review_report(team_ids: list[int], *, limit: int = 1000) -> ReviewReport:
    postmortems = list(
        PostMortem.objects.filter(team_id__in=team_ids)
        .select_related("incident__service", "team")
        .order_by("-created_at")[:limit]
    )
    counts = Counter(pm.status for pm in postmortems)
    rows = [ReviewRow(pm, measure(pm)) for pm in postmortems]
    cost: dict[str, Decimal] = defaultdict(Decimal)
    incidents_per_quarter: Counter = Counter()
    for row in rows:
        resolved = row.postmortem.incident.resolved_at
        if resolved is not None and row.facts.downtime_cost is not None:
            quarter = quarter_of(resolved)
            cost[quarter] += row.facts.downtime_cost
            incidents_per_quarter[quarter] += 1
    overdue = list(
        ActionItem.objects.filter(postmortem__team_id__in=team_ids)
        .overdue()
        .select_related("owner", "postmortem")
        .order_by("due_date", "priority")[:200]
    )
    return ReviewReport(
        by_status={s.label: counts.get(s.value, 0) for s in Status},
        awaiting_review=[pm for pm in postmortems if pm.status == Status.IN_REVIEW],
        missed_rto=[r for r in rows if r.facts.rto.state == MISSED],
        missed_rpo=[r for r in rows if r.facts.rpo.state == MISSED],
        cost_by_quarter=sorted(
            ((q, c, incidents_per_quarter[q]) for q, c in cost.items()), reverse=True
        ),
        overdue_items=overdue,
    )
