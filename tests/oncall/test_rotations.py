"""Who is on call: handoffs, overrides, DST in Europe/Berlin and America/New_York, iCal."""

from __future__ import annotations

import datetime
from datetime import UTC

import pytest

from oncall.rotations import rotation_ical, scheduled_shift, shifts_between, who_is_on_call
from tests.factories import UserFactory
from tests.oncall.factories import OverrideFactory, RotationFactory, RotationMemberFactory

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def rotation_of(names, **kwargs):
    rotation = RotationFactory(**kwargs)
    users = [UserFactory(username=name) for name in names]
    for position, user in enumerate(users):
        RotationMemberFactory(rotation=rotation, user=user, position=position)
    return rotation, users


def test_weekly_handoffs_follow_the_member_order():
    rotation, (ann, bob, cat) = rotation_of(
        ["ann", "bob", "cat"], time_zone="UTC", shift_hours=168,
        start_date=datetime.date(2024, 1, 1), handoff_time=datetime.time(9, 0),
    )  # fmt: skip
    assert who_is_on_call(rotation, utc(2023, 12, 31, 12)) is None  # before the first handoff
    assert who_is_on_call(rotation, utc(2024, 1, 1, 9)) == ann
    assert who_is_on_call(rotation, utc(2024, 1, 8, 8, 59)) == ann
    assert who_is_on_call(rotation, utc(2024, 1, 8, 9)) == bob
    assert who_is_on_call(rotation, utc(2024, 1, 15, 9)) == cat
    assert who_is_on_call(rotation, utc(2024, 1, 22, 9)) == ann  # wraps around


def test_berlin_daily_handoff_stays_at_nine_local_across_spring_forward():
    # 2024-03-31 02:00 CET -> 03:00 CEST. 09:00 local is 08:00 UTC before, 07:00 UTC after.
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="Europe/Berlin", shift_hours=24,
        start_date=datetime.date(2024, 3, 1), handoff_time=datetime.time(9, 0),
    )  # fmt: skip
    # Mar 30 is day 29 (odd) -> bob; Mar 31 is day 30 -> ann.
    assert who_is_on_call(rotation, utc(2024, 3, 30, 8, 0)) == bob
    assert who_is_on_call(rotation, utc(2024, 3, 31, 6, 59)) == bob
    assert who_is_on_call(rotation, utc(2024, 3, 31, 7, 0)) == ann
    shift = scheduled_shift(rotation, utc(2024, 3, 31, 7, 0))
    assert shift.start == utc(2024, 3, 31, 7, 0) and shift.end == utc(2024, 4, 1, 7, 0)
    previous = scheduled_shift(rotation, utc(2024, 3, 31, 6, 0))
    assert previous.end - previous.start == datetime.timedelta(hours=23)


def test_berlin_daily_handoff_across_fall_back():
    # 2024-10-27 03:00 CEST -> 02:00 CET. 09:00 local is 07:00 UTC before, 08:00 UTC after.
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="Europe/Berlin", shift_hours=24,
        start_date=datetime.date(2024, 10, 26), handoff_time=datetime.time(9, 0),
    )  # fmt: skip
    assert who_is_on_call(rotation, utc(2024, 10, 26, 7, 0)) == ann
    assert who_is_on_call(rotation, utc(2024, 10, 27, 7, 30)) == ann  # 08:30 CET: still ann
    assert who_is_on_call(rotation, utc(2024, 10, 27, 8, 0)) == bob
    shift = scheduled_shift(rotation, utc(2024, 10, 27, 0, 0))
    assert shift.end - shift.start == datetime.timedelta(hours=25)


def test_new_york_weekly_handoff_across_both_dst_changes():
    # DST 2024: starts Mar 10, ends Nov 3. Monday 09:00 local = 14:00 UTC (EST) / 13:00 UTC (EDT).
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="America/New_York", shift_hours=168,
        start_date=datetime.date(2024, 3, 4), handoff_time=datetime.time(9, 0),
    )  # fmt: skip
    assert who_is_on_call(rotation, utc(2024, 3, 4, 14, 0)) == ann
    assert who_is_on_call(rotation, utc(2024, 3, 11, 12, 59)) == ann
    assert who_is_on_call(rotation, utc(2024, 3, 11, 13, 0)) == bob  # 09:00 EDT
    # Monday Nov 4 is week 35 (odd) -> bob from 09:00 EST = 14:00 UTC.
    assert who_is_on_call(rotation, utc(2024, 11, 4, 13, 30)) == ann  # 08:30 EST
    assert who_is_on_call(rotation, utc(2024, 11, 4, 14, 0)) == bob


def test_new_york_handoff_inside_the_repeated_hour_takes_its_first_occurrence():
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="America/New_York", shift_hours=24,
        start_date=datetime.date(2024, 11, 2), handoff_time=datetime.time(1, 30),
    )  # fmt: skip
    # Nov 3 01:30 happens twice: 05:30 UTC (EDT) and 06:30 UTC (EST). The first counts.
    assert who_is_on_call(rotation, utc(2024, 11, 3, 5, 29)) == ann
    assert who_is_on_call(rotation, utc(2024, 11, 3, 5, 30)) == bob


def test_berlin_handoff_in_the_skipped_hour_still_happens():
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="Europe/Berlin", shift_hours=24,
        start_date=datetime.date(2024, 3, 30), handoff_time=datetime.time(2, 30),
    )  # fmt: skip
    # 02:30 does not exist on Mar 31; read with the winter offset it is 01:30 UTC (03:30 CEST).
    assert who_is_on_call(rotation, utc(2024, 3, 31, 1, 29)) == ann
    assert who_is_on_call(rotation, utc(2024, 3, 31, 1, 30)) == bob


def test_twelve_hour_shifts_count_elapsed_hours_across_dst():
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="Europe/Berlin", shift_hours=12,
        start_date=datetime.date(2024, 3, 30), handoff_time=datetime.time(8, 0),
    )  # fmt: skip
    # First handoff 08:00 CET = 07:00 UTC; then every 12 elapsed hours.
    assert who_is_on_call(rotation, utc(2024, 3, 30, 7, 0)) == ann
    assert who_is_on_call(rotation, utc(2024, 3, 30, 19, 0)) == bob
    assert who_is_on_call(rotation, utc(2024, 3, 31, 7, 0)) == ann  # 09:00 CEST local


def test_overrides_win_and_the_latest_wins_where_they_overlap():
    rotation, (ann, bob) = rotation_of(
        ["ann", "bob"], time_zone="UTC", shift_hours=168, start_date=datetime.date(2024, 1, 1)
    )
    cover = UserFactory(username="cover")
    late = UserFactory(username="late")
    OverrideFactory(rotation=rotation, user=cover, start=utc(2024, 1, 2, 0), end=utc(2024, 1, 3, 0))
    OverrideFactory(
        rotation=rotation, user=late, start=utc(2024, 1, 2, 12), end=utc(2024, 1, 2, 18)
    )
    assert who_is_on_call(rotation, utc(2024, 1, 1, 23, 59)) == ann
    assert who_is_on_call(rotation, utc(2024, 1, 2, 0)) == cover
    assert who_is_on_call(rotation, utc(2024, 1, 2, 13)) == late
    assert who_is_on_call(rotation, utc(2024, 1, 2, 18)) == cover
    assert who_is_on_call(rotation, utc(2024, 1, 3, 0)) == ann

    shifts = shifts_between(rotation, utc(2024, 1, 1, 9), utc(2024, 1, 4, 0))
    assert [
        (s.user.username, s.start.day, s.start.hour, s.end.day, s.end.hour) for s in shifts
    ] == [
        ("ann", 1, 9, 2, 0),
        ("cover", 2, 0, 2, 12),
        ("late", 2, 12, 2, 18),
        ("cover", 2, 18, 3, 0),
        ("ann", 3, 0, 4, 0),
    ]


def test_empty_rotation_has_nobody_on_call():
    rotation = RotationFactory()
    assert who_is_on_call(rotation, utc(2024, 5, 1)) is None


def test_ical_feed_lists_shifts_in_utc():
    rotation, _ = rotation_of(
        ["ann", "bob"], time_zone="Europe/Berlin", shift_hours=24,
        start_date=datetime.date(2024, 3, 1), name="Avatar, primary",
    )  # fmt: skip
    text = rotation_ical(rotation, now=utc(2024, 3, 30, 12), days=3)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "X-WR-CALNAME:On call: Avatar\\, primary" in text
    assert "DTSTART:20240331T070000Z\r\nDTEND:20240401T070000Z" in text
    assert "SUMMARY:On call: ann" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_ical_feed_escapes_line_breaks_including_a_bare_cr_and_parses_back():
    import icalendar

    rotation, _ = rotation_of(
        ["ann"], shift_hours=24, start_date=datetime.date(2024, 3, 1),
        name="Night\rshift; EU,\r\nprimary\\" + "x" * 80,
    )  # fmt: skip
    text = rotation_ical(rotation, now=utc(2024, 3, 30, 12), days=1)
    lines = text.split("\r\n")
    # No raw CR or LF inside a content line: a bare CR would end the line in some readers.
    assert all("\r" not in line and "\n" not in line for line in lines)
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "X-WR-CALNAME:On call: Night\\nshift\\; EU\\,\\nprimary\\\\x" in unfolded
    parsed = icalendar.Calendar.from_ical(text)
    event = parsed.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "On call: ann"
    # A CR, a CRLF and an LF all come back as line breaks; the other specials round-trip.
    expected = "Night\nshift; EU,\nprimary\\" + "x" * 80 + f" ({rotation.time_zone})"
    assert str(event["DESCRIPTION"]) == expected
