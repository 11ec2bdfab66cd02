"""The read side of the incident board: filters from the URL, header counts, and the version
the live board polls.

Kept apart from the views because the API and the benchmark read the board the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from incidents.models import OPEN_STATUSES, Incident, Severity, Status, attention_rank

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
    team: str = ""  # team slug, or "all" (overrides the team chosen in the switcher)
    window: str = ""  # "" (any time) | a key of WINDOWS
    q: str = ""
    sort: str = "attention"


def filter_incidents(qs: QuerySet, filters: BoardFilters, *, with_status: bool = True) -> QuerySet:
    """Apply the board's filters; ``with_status=False`` leaves out the status and severity ones,
    for the header counts that show how the other filters split across them."""
    if filters.service:
        qs = qs.filter(service__slug=filters.service)
    if filters.team and filters.team != "all":
        qs = qs.filter(team__slug=filters.team)
    if filters.window:
        qs = qs.filter(triggered_at__gte=timezone.now() - WINDOWS[filters.window])
    if filters.q:
        text = filters.q
        number = text.upper().removeprefix("INC-")
        # ASCII digits that fit a bigint: "²" passes isdigit() but not int(), 20 digits overflow.
        if number.isascii() and number.isdigit() and len(number) <= 18:
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
    "attention": _("needs attention"),
    "open-first": _("open first, newest"),
    "newest": _("newest"),
    "oldest": _("oldest"),
    "severity": _("highest severity"),
    "updated": _("recently changed"),
}

# Triggered before acknowledged before mitigated (resolved last), the worst severity first, then
# the one waiting longest. The partial index incident_team_attention_idx holds this order for
# the open incidents of a team.
ATTENTION_ORDER = (attention_rank(), "-severity", "triggered_at", "id")


def sort_incidents(qs: QuerySet, sort: str) -> QuerySet:
    if sort == "newest":
        return qs.order_by("-triggered_at", "-id")
    if sort == "oldest":
        return qs.order_by("triggered_at", "id")
    if sort == "severity":
        return qs.order_by("-severity", "-triggered_at", "-id")
    if sort == "updated":
        return qs.order_by("-updated_at", "-id")
    if sort == "attention":
        return qs.order_by(*ATTENTION_ORDER)
    return qs.annotate(
        _resolved=Case(When(status=Status.RESOLVED, then=Value(1)), default=Value(0))
    ).order_by("_resolved", "-triggered_at", "-id")


def header_counts(qs: QuerySet, *, count_resolved: bool = True) -> dict:
    """Counts per status, and per severity among the open ones.

    Without ``count_resolved`` the resolved incidents (nearly all rows, after a year) are not
    counted: the default board shows open incidents and need not read the team's history.

    Two GROUP BY queries rather than one pass of conditional counts: the status count is an
    index-only scan of (team, status, triggered_at) and the severity count reads only the few
    open rows, where a single pass would read every row of the team.
    """
    status_qs = qs if count_resolved else qs.filter(status__in=OPEN_STATUSES)
    per_status = dict(status_qs.order_by().values_list("status").annotate(n=Count("id")))
    per_severity = dict(
        qs.filter(status__in=OPEN_STATUSES)
        .order_by()
        .values_list("severity")
        .annotate(n=Count("id"))
    )
    return {
        "by_status": [
            (s, Status(s).label, per_status.get(s, 0 if count_resolved else None))
            for s in Status.values
        ],
        "by_severity": [(sev, per_severity.get(sev, 0)) for sev in reversed(Severity.values)],
        "open": sum(per_status.get(s, 0) for s in OPEN_STATUSES),
        "per_status": per_status,
        "per_severity": per_severity,
    }


def known_count(filters: BoardFilters, counts: dict) -> int | None:
    """The number of rows the board lists, when the header counts already tell it."""
    if filters.status == "open":
        statuses = list(OPEN_STATUSES)
    elif filters.status == "all":
        statuses = list(Status.values)
    else:
        statuses = [filters.status]
    if not filters.severity:
        return sum(counts["per_status"].get(s, 0) for s in statuses)
    if filters.status == "open":
        if filters.severity.endswith("+"):
            floor = int(filters.severity[:-1])
            return sum(n for sev, n in counts["per_severity"].items() if sev >= floor)
        return counts["per_severity"].get(int(filters.severity), 0)
    return None


class KnownCountPaginator(Paginator):
    def __init__(self, object_list, per_page, *, count: int | None):
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        if self._known_count is not None:
            return self._known_count
        return super().count


class OpenThenResolved:
    """ "Open first" over every status, as two index-ordered reads instead of one sort of the
    team's whole history: the open rows (newest first, or in the "needs attention" order), then
    the resolved ones after them, newest first."""

    def __init__(self, qs: QuerySet, open_count: int, *, open_order=("-triggered_at", "-id")):
        self.open = qs.filter(status__in=OPEN_STATUSES).order_by(*open_order)
        self.resolved = qs.filter(status=Status.RESOLVED).order_by("-triggered_at", "-id")
        self.open_count = open_count

    def __getitem__(self, window: slice) -> list:
        start, stop = window.start or 0, window.stop
        rows = []
        if start < self.open_count:
            rows += list(self.open[start : min(stop, self.open_count)])
        if stop > self.open_count:
            rows += list(self.resolved[max(0, start - self.open_count) : stop - self.open_count])
        return rows

    def count(self) -> int:
        return self.open.count() + self.resolved.count()

    def __len__(self) -> int:
        return self.count()


def board_page(qs: QuerySet, filters: BoardFilters, counts: dict, *, number, per_page: int):
    """The page of incidents the board shows, with as few and as cheap queries as it can."""
    listing = filter_incidents(qs, filters)
    open_count = known_count(replace(filters, status="open"), counts)
    if filters.status == "all" and filters.sort == "open-first" and open_count is not None:
        rows = OpenThenResolved(listing, open_count)
    elif filters.status == "all" and filters.sort == "attention" and open_count is not None:
        rows = OpenThenResolved(listing, open_count, open_order=ATTENTION_ORDER)
    elif filters.status == Status.RESOLVED and filters.sort == "attention":
        # Nothing resolved needs attention: the latest first, as "open first" shows them.
        rows = sort_incidents(listing, "newest")
    else:
        rows = sort_incidents(listing, filters.sort)
    paginator = KnownCountPaginator(rows, per_page, count=known_count(filters, counts))
    return paginator.get_page(number)


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
