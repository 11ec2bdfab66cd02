"""The read side of the incident board: filters from the URL, header counts, and the version
the live board polls.

Kept apart from the views because the API and the benchmark read the board the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from incidents.models import OPEN_STATUSES, Incident, Severity, Status

WINDOWS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}


@dataclass(frozen=True)
class BoardFilters:
    status: str = "open"  # open | all | one Status value
    severity: str = ""  # "" | "3" (exactly) | "3+" (at least)
    service: str = ""  # service slug
    team: str = ""  # team slug
    window: str = ""  # "" (any time) | a key of WINDOWS
    q: str = ""
    sort: str = "open-first"


def filter_incidents(qs: QuerySet, filters: BoardFilters, *, with_status: bool = True) -> QuerySet:
    """Apply the board's filters; ``with_status=False`` leaves out the status and severity ones,
    for the header counts that show how the other filters split across them."""
    if filters.service:
        qs = qs.filter(service__slug=filters.service)
    if filters.team:
        qs = qs.filter(team__slug=filters.team)
    if filters.window:
        qs = qs.filter(triggered_at__gte=timezone.now() - WINDOWS[filters.window])
    if filters.q:
        text = filters.q
        number = text.upper().removeprefix("INC-")
        if number.isdigit():
            qs = qs.filter(Q(pk=int(number)) | Q(title__icontains=text))
        else:
            qs = qs.filter(Q(title__icontains=text) | Q(dedup_key=text))
    if not with_status:
        return qs
    if filters.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif filters.status != "all":
        qs = qs.filter(status=filters.status)
    if filters.severity.endswith("+"):
        qs = qs.filter(severity__gte=int(filters.severity[:-1]))
    elif filters.severity:
        qs = qs.filter(severity=int(filters.severity))
    return qs


SORTS = {
    "open-first": "open first, newest",
    "newest": "newest",
    "oldest": "oldest",
    "severity": "highest severity",
    "updated": "recently changed",
}


def sort_incidents(qs: QuerySet, sort: str) -> QuerySet:
    if sort == "newest":
        return qs.order_by("-triggered_at", "-id")
    if sort == "oldest":
        return qs.order_by("triggered_at", "id")
    if sort == "severity":
        return qs.order_by("-severity", "-triggered_at", "-id")
    if sort == "updated":
        return qs.order_by("-updated_at", "-id")
    return qs.annotate(
        _resolved=Case(When(status=Status.RESOLVED, then=Value(1)), default=Value(0))
    ).order_by("_resolved", "-triggered_at", "-id")


def header_counts(qs: QuerySet) -> dict:
    """Counts per status, and per severity among the open ones, in one query."""
    aggregates = {
        f"status_{status}": Count("id", filter=Q(status=status)) for status in Status.values
    }
    aggregates.update(
        {
            f"sev_{sev}": Count("id", filter=Q(severity=sev, status__in=OPEN_STATUSES))
            for sev in Severity.values
        }
    )
    row = qs.order_by().aggregate(**aggregates)
    return {
        "by_status": [(s, Status(s).label, row[f"status_{s}"]) for s in Status.values],
        "by_severity": [(sev, row[f"sev_{sev}"]) for sev in reversed(Severity.values)],
        "open": sum(row[f"status_{s}"] for s in OPEN_STATUSES),
    }


def board_version(team_ids: list[int]) -> str:
    """What the live board compares against to learn whether anything changed, in one query.

    Every write through incidents.services bumps ``updated_at`` (indexed), so its maximum moves
    on any change; the count of open incidents (from the team/status index) also moves when an
    open incident disappears, which a maximum alone would miss.
    """
    if not team_ids:
        return "empty"
    table = Incident._meta.db_table
    teams = ", ".join(["%s"] * len(team_ids))
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(updated_at) FROM {table} WHERE team_id IN ({teams})),"  # noqa: S608
            f" (SELECT count(*) FROM {table} WHERE team_id IN ({teams}) AND status IN ({statuses}))",
            [*team_ids, *team_ids, *[str(s) for s in OPEN_STATUSES]],
        )
        latest, open_count = cursor.fetchone()
    if latest is None:
        return "empty"
    # SQLite returns text, PostgreSQL a datetime.
    stamp = latest if isinstance(latest, str) else str(int(latest.timestamp() * 1_000_000))
    return f"{stamp}.{open_count}"
