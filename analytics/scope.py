"""What a report covers: one team, optionally one service and some severities, a time range.

Parsed from query parameters in one place, for the pages, the CSV exports and the API alike.
A bad value is a 400 naming the parameter; a range reaching past the retention window is
clamped to it and says so (``Scope.notice``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.models import Team
from accounts.permissions import team_ids_of
from config.errors import InvalidInput, NotFound
from incidents.models import Service, Severity

DEFAULT_DAYS = 90


class ScopeError(InvalidInput):
    """A report parameter is wrong; ``field`` names it (the API reports it under that key)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.detail = message


@dataclass(frozen=True)
class Scope:
    team: Team
    start: datetime
    end: datetime
    service: Service | None = None
    severities: tuple[int, ...] = ()
    include_drills: bool = False
    notice: str = ""
    # The moment "still open" incidents are measured up to (min(now, end)).
    now: datetime = field(default_factory=timezone.now)

    @property
    def until(self) -> datetime:
        """Open incidents count as down until this moment: now, or the range end if earlier."""
        return min(self.now, self.end)

    @property
    def seconds(self) -> float:
        return max((self.until - self.start).total_seconds(), 0.0)

    def shifted(self, *, start: datetime, end: datetime) -> Scope:
        return Scope(
            team=self.team,
            start=start,
            end=end,
            service=self.service,
            severities=self.severities,
            include_drills=self.include_drills,
            now=self.now,
        )

    def as_query(self) -> dict[str, str]:
        """The parameters that reproduce this scope (for links: CSV, other views)."""
        query = {
            "team": str(self.team.pk),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
        if self.service:
            query["service"] = self.service.slug
        if self.severities:
            query["severity"] = ",".join(str(s) for s in self.severities)
        if self.include_drills:
            query["drills"] = "1"
        return query


def _parse_moment(name: str, raw: str, *, end: bool) -> datetime:
    """A date (a whole day: the end date is included) or an ISO 8601 date-time."""
    raw = raw.strip()
    try:
        # A bare date first: Python's fromisoformat (inside parse_datetime) would read
        # "2026-03-31" as that midnight, and the end date would lose its whole day.
        day = parse_date(raw) if len(raw) <= 10 else None
        moment = None if day else parse_datetime(raw)
    except ValueError:
        raise ScopeError(name, _("%(value)r is not a valid date") % {"value": raw[:40]}) from None
    if moment is None and day is None:
        raise ScopeError(
            name, _("give a date like 2026-01-31 or a date-time like 2026-01-31T12:00:00Z")
        )
    if day is not None:
        if not date(1970, 1, 1) <= day <= date(2100, 12, 31):
            raise ScopeError(name, _("must lie between 1970 and 2100"))
        if end:
            day = day + timedelta(days=1)
        moment = datetime.combine(day, time(0))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    if (
        not datetime(1970, 1, 1, tzinfo=moment.tzinfo)
        <= moment
        <= datetime(2101, 1, 1, tzinfo=moment.tzinfo)
    ):
        raise ScopeError(name, _("must lie between 1970 and 2100"))
    return moment


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ScopeError(name, _("give 1 or 0"))


def _parse_severities(raw: str) -> tuple[int, ...]:
    chosen = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            value = 0
        if value not in Severity.values:
            raise ScopeError("severity", _("give severities from 1 to 5, e.g. 4,5"))
        chosen.add(value)
    return tuple(sorted(chosen))


def parse_scope(
    user,
    params,
    *,
    now: datetime | None = None,
    default_team_id: int | None = None,
    visible_team_ids: list[int] | None = None,
) -> Scope:
    """Build the scope from query parameters. Another team's team or service is a 404.

    Without ``team`` the report is for ``default_team_id`` (the team chosen in the page's
    switcher) when the user may see it, else for the user's first team.
    """
    now = now or timezone.now()
    visible = visible_team_ids if visible_team_ids is not None else team_ids_of(user)
    raw_team = (params.get("team") or "").strip()
    if raw_team:
        try:
            team_id = int(raw_team)
        except ValueError:
            raise ScopeError("team", _("give the team's id")) from None
        if team_id not in visible:
            raise NotFound(_("No such team in your teams."))
    elif default_team_id in visible:
        team_id = default_team_id
    elif visible:
        team_id = (
            Team.objects.filter(pk__in=visible).order_by("name", "pk").values_list("pk", flat=True)
        )[0]
    else:
        raise NotFound(_("You are not a member of any team."))
    team = Team.objects.get(pk=team_id)

    service = None
    slug = (params.get("service") or "").strip()
    if slug:
        service = Service.objects.filter(slug=slug[:64], team_id=team.pk).first()
        if service is None:
            raise NotFound(_("No such service in this team."))

    raw_start = (params.get("start") or "").strip()
    raw_end = (params.get("end") or "").strip()
    if raw_start and not raw_end:
        raise ScopeError("end", _("give an end as well: a range needs both bounds"))
    if raw_end and not raw_start:
        raise ScopeError("start", _("give a start as well: a range needs both bounds"))
    if raw_start:
        start = _parse_moment("start", raw_start, end=False)
        end = _parse_moment("end", raw_end, end=True)
        if end <= start:
            raise ScopeError("end", _("must come after start"))
    else:
        today = timezone.localdate(now)
        end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time(0)))
        start = end - timedelta(days=DEFAULT_DAYS)

    notice = ""
    retention_days = settings.ANALYTICS_RETENTION_DAYS
    earliest = now - timedelta(days=retention_days)
    if start < earliest:
        start = earliest
        notice = _(
            "The range started before the retention window of %(days)s days; "
            "the report starts at %(start)s."
        ) % {"days": retention_days, "start": start.date().isoformat()}
        if end <= start:
            raise ScopeError("end", _("the whole range lies before the retention window"))

    return Scope(
        team=team,
        start=start,
        end=end,
        service=service,
        severities=_parse_severities(params.get("severity") or ""),
        include_drills=_parse_bool("drills", params.get("drills") or ""),
        notice=notice,
        now=now,
    )
