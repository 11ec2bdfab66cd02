"""Who is on call: shifts of a rotation in its own time zone, overrides on top, iCal export.

Shifts whose length is a whole number of days are laid out on the rotation's local calendar:
shift k starts on ``start_date + k * days`` at ``handoff_time`` local time, whatever the UTC
offset that day, so a weekly Monday 09:00 handoff in Europe/Berlin stays at 09:00 across DST.
Other lengths (e.g. 12 h) are counted in elapsed time from the first handoff, since "12 hours
later" on a DST night is what a person working that shift lives through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.utils import timezone

from oncall.models import Override, Rotation

MAX_SHIFTS_LISTED = 2000
# Limits of what a rotation may be saved with (validate_rotation); the computations below also
# stay within [HORIZON_START, HORIZON_END) for rows stored before these limits existed, so no
# stored rotation can make a page, the API or the iCal feed overflow.
MAX_SHIFT_HOURS = 24 * 366
EARLIEST_START = date(1970, 1, 1)
LATEST_START = date(2100, 12, 31)
HORIZON_START = datetime(1970, 1, 1, tzinfo=UTC)
HORIZON_END = datetime(2101, 1, 1, tzinfo=UTC)


def validate_rotation(*, shift_hours: int | None = None, start_date: date | None = None) -> dict:
    """Problems with these values by field name (empty when they are fine)."""
    problems = {}
    if shift_hours is not None and not 1 <= shift_hours <= MAX_SHIFT_HOURS:
        problems["shift_hours"] = f"a shift lasts from 1 to {MAX_SHIFT_HOURS} hours (a year)"
    if start_date is not None and not EARLIEST_START <= start_date <= LATEST_START:
        problems["start_date"] = (
            f"the first handoff must be between {EARLIEST_START} and {LATEST_START}"
        )
    return problems


def _clamp(moment: datetime) -> datetime:
    return min(max(moment, HORIZON_START), HORIZON_END)


@dataclass(frozen=True)
class Shift:
    user: object
    start: datetime
    end: datetime
    is_override: bool = False


def _local_instant(day: date, rotation: Rotation, tz: ZoneInfo) -> datetime:
    """``handoff_time`` on ``day`` in the rotation's zone, as an aware UTC instant.

    A wall time skipped by a spring-forward is read with the offset before the change (it lands
    an hour later on the clock); an ambiguous one takes its first occurrence (fold=0).
    """
    naive = datetime.combine(day, rotation.handoff_time)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _members(rotation: Rotation) -> list:
    cached = getattr(rotation, "_ordered_members", None)
    if cached is None:
        cached = [m.user for m in rotation.members.select_related("user").order_by("position")]
        rotation._ordered_members = cached
    return cached


def _shift_bounds(rotation: Rotation, index: int) -> tuple[datetime, datetime]:
    """Start and end of shift ``index``, both clamped to the horizon (never raises)."""
    try:
        start, end = _raw_shift_bounds(rotation, index)
    except (OverflowError, ValueError):
        # Past what datetime can count: lay it at the horizon's end, where nothing is asked.
        try:
            start = _clamp(_raw_shift_bounds(rotation, index)[0])
        except (OverflowError, ValueError):
            start = HORIZON_END if index > 0 else HORIZON_START
        return start, HORIZON_END
    return _clamp(start), _clamp(end)


def _raw_shift_bounds(rotation: Rotation, index: int) -> tuple[datetime, datetime]:
    tz = ZoneInfo(rotation.time_zone)
    if rotation.shift_hours % 24 == 0:
        days = rotation.shift_hours // 24
        start = _local_instant(rotation.start_date + timedelta(days=index * days), rotation, tz)
        end = _local_instant(rotation.start_date + timedelta(days=(index + 1) * days), rotation, tz)
        return start, end
    origin = _local_instant(rotation.start_date, rotation, tz)
    length = timedelta(hours=rotation.shift_hours)
    return origin + index * length, origin + (index + 1) * length


def _shift_index(rotation: Rotation, at: datetime) -> int:
    """The shift covering ``at``; ``at`` is first clamped into the horizon."""
    at = min(max(at, HORIZON_START), HORIZON_END - timedelta(days=2))
    tz = ZoneInfo(rotation.time_zone)
    if rotation.shift_hours % 24 == 0:
        days = rotation.shift_hours // 24
        local_day = at.astimezone(tz).date()
        index = (local_day - rotation.start_date).days // days
        # The local date alone is off by one around the handoff hour: compare real instants.
        # (At most two steps: clamped bounds only grow, so these loops end.)
        for _ in range(3):
            if _shift_bounds(rotation, index)[0] > at:
                index -= 1
        for _ in range(3):
            if _shift_bounds(rotation, index)[1] <= at:
                index += 1
        return index
    try:
        origin = _local_instant(rotation.start_date, rotation, tz)
    except (OverflowError, ValueError):
        return -1
    return int((at - origin) // timedelta(hours=rotation.shift_hours))


def scheduled_shift(rotation: Rotation, at: datetime) -> Shift | None:
    """The regular shift covering ``at`` (overrides ignored); None before the first handoff."""
    members = _members(rotation)
    if not members:
        return None
    index = _shift_index(rotation, at)
    if index < 0:
        return None
    start, end = _shift_bounds(rotation, index)
    return Shift(user=members[index % len(members)], start=start, end=end)


def who_is_on_call(rotation: Rotation, at: datetime | None = None):
    """The user on call at ``at`` (default now): the latest override covering it, else the shift."""
    at = at or timezone.now()
    override = (
        Override.objects.filter(rotation=rotation, start__lte=at, end__gt=at)
        .select_related("user")
        .order_by("-created_at", "-id")
        .first()
    )
    if override is not None:
        return override.user
    shift = scheduled_shift(rotation, at)
    return shift.user if shift else None


def shifts_between(rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """Who covers [start, end): regular shifts cut around overrides, in time order."""
    start, end = _clamp(start), _clamp(end)
    members = _members(rotation)
    regular: list[Shift] = []
    if members:
        first = max(_shift_index(rotation, start), 0)
        index = first
        while len(regular) < MAX_SHIFTS_LISTED:
            s, e = _shift_bounds(rotation, index)
            if s >= end:
                break
            if e > start:
                regular.append(Shift(members[index % len(members)], max(s, start), min(e, end)))
            index += 1
    overrides = list(
        Override.objects.filter(rotation=rotation, start__lt=end, end__gt=start)
        .select_related("user")
        .order_by("created_at", "id")
    )
    pieces = regular
    for override in overrides:  # later overrides are applied last, so they win
        o_start, o_end = max(override.start, start), min(override.end, end)
        cut: list[Shift] = []
        for piece in pieces:
            if piece.end <= o_start or piece.start >= o_end:
                cut.append(piece)
                continue
            if piece.start < o_start:
                cut.append(Shift(piece.user, piece.start, o_start, piece.is_override))
            if piece.end > o_end:
                cut.append(Shift(piece.user, o_end, piece.end, piece.is_override))
        cut.append(Shift(override.user, o_start, o_end, True))
        pieces = sorted(cut, key=lambda p: p.start)
    return pieces


def next_handoff(rotation: Rotation, at: datetime | None = None) -> datetime | None:
    at = at or timezone.now()
    shift = scheduled_shift(rotation, at)
    if shift is not None:
        return shift.end
    members = _members(rotation)
    if not members:
        return None
    return _shift_bounds(rotation, 0)[0]


# --- iCal ---------------------------------------------------------------------------------


def rotation_ical(rotation: Rotation, *, now: datetime | None = None, days: int = 60) -> str:
    """An iCalendar feed of the shifts from a week ago to ``days`` ahead (UTC times).

    Built with the icalendar library: it escapes text (commas, semicolons, backslashes, line
    breaks including a bare CR) and folds long lines as RFC 5545 says."""
    now = now or timezone.now()
    shifts = shifts_between(rotation, now - timedelta(days=7), now + timedelta(days=days))
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", "-//Vigil//On-call rotations//EN")
    calendar.add("calscale", "GREGORIAN")
    # An X- property has no type icalendar knows: say it is text, so it is escaped like one.
    calendar.add("x-wr-calname", icalendar.vText(f"On call: {rotation.name}"))
    stamp = now.astimezone(UTC)
    for shift in shifts:
        start, end = shift.start.astimezone(UTC), shift.end.astimezone(UTC)
        event = icalendar.Event()
        event.add("uid", f"vigil-rotation-{rotation.pk}-{start:%Y%m%dT%H%M%SZ}-{shift.user.pk}")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", end)
        summary = f"On call: {shift.user}" + (" (override)" if shift.is_override else "")
        event.add("summary", summary)
        event.add("description", f"{rotation.name} ({rotation.time_zone})")
        calendar.add_component(event)
    return calendar.to_ical().decode()
