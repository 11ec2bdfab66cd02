"""Rotations are bounded so no computation overflows; rows stored before the bounds still render
(issue 11: shift_hours 2147483647 made /oncall/, the on-call API and the iCal feed answer 500)."""

from __future__ import annotations

import datetime
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.models import Rotation
from oncall.rotations import (
    HORIZON_END,
    HORIZON_START,
    rotation_ical,
    scheduled_shift,
    shifts_between,
    who_is_on_call,
)
from tests.oncall.factories import RotationFactory, RotationMemberFactory

pytestmark = pytest.mark.django_db


def rotation_body(team, **changes):
    body = {
        "team": team.pk, "name": "Primary", "time_zone": "Pacific/Kiritimati", "shift_hours": 24,
        "handoff_time": "09:00", "start_date": "2024-03-01", "members": [],
    }  # fmt: skip
    return body | changes


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"shift_hours": 2147483647}, "shift_hours"),
        ({"shift_hours": 24 * 367}, "shift_hours"),
        ({"shift_hours": 0}, "shift_hours"),
        ({"start_date": "0001-01-01"}, "start_date"),
        ({"start_date": "9999-12-31"}, "start_date"),
    ],
)
def test_rotation_values_that_could_overflow_are_refused(client, manager, team, changes, field):
    client.force_login(manager)
    response = client.post(
        "/api/v1/oncall/rotations/", rotation_body(team, **changes), content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Rotation.objects.exists()


def test_a_year_long_shift_is_accepted(client, manager, team):
    client.force_login(manager)
    response = client.post(
        "/api/v1/oncall/rotations/",
        rotation_body(team, shift_hours=24 * 366, start_date="2100-12-31"),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "at",
    ["9999-12-31T23:59:59-14:00", "2101-01-01T00:00:00Z", "0001-01-01T00:00:00Z"],
)
def test_on_call_at_outside_the_limits_is_a_400(client, manager, team, at):
    rotation = RotationFactory(team=team)
    client.force_login(manager)
    response = client.get(f"/api/v1/oncall/rotations/{rotation.pk}/on-call/", {"at": at})
    assert response.status_code == 400
    assert "at" in response.json()["error"]["fields"]


def test_override_outside_the_limits_is_a_400(client, manager, team):
    rotation = RotationFactory(team=team)
    client.force_login(manager)
    response = client.post(
        f"/api/v1/oncall/rotations/{rotation.pk}/overrides/",
        {"user": manager.pk, "start": "2024-03-01T12:00:00Z", "end": "9999-12-31T23:59:59Z"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "end" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "shift_hours, start_date",
    [
        (2147483647, datetime.date(2024, 1, 1)),
        (24 * 10**7, datetime.date(2024, 1, 1)),
        (1, datetime.date(1, 1, 1)),
        (24, datetime.date(1, 1, 1)),
        (24, datetime.date(9999, 12, 31)),
        (7, datetime.date(9999, 12, 31)),
    ],
)
def test_rotations_stored_before_the_limits_still_render(
    client, manager, team, shift_hours, start_date
):
    rotation = RotationFactory(team=team, time_zone="Pacific/Kiritimati")
    RotationMemberFactory(rotation=rotation, user=manager, position=0)
    Rotation.objects.filter(pk=rotation.pk).update(shift_hours=shift_hours, start_date=start_date)
    client.force_login(manager)

    assert client.get("/oncall/").status_code == 200
    api = client.get(f"/api/v1/oncall/rotations/{rotation.pk}/on-call/")
    assert api.status_code == 200
    feed = client.get(f"/oncall/rotations/{rotation.pk}/calendar.ics")
    assert feed.status_code == 200
    assert feed.content.startswith(b"BEGIN:VCALENDAR")


zones = st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin"])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shift_hours=st.integers(min_value=1, max_value=2**31 - 1),
    start_date=st.dates(),
    zone=zones,
    at=st.datetimes(
        min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9999, 12, 30)
    ),
)
def test_no_stored_rotation_and_no_instant_make_the_computations_raise(
    team, manager, shift_hours, start_date, zone, at
):
    rotation = Rotation(
        pk=None, team=team, name="r", time_zone=zone, shift_hours=shift_hours,
        handoff_time=datetime.time(9), start_date=start_date,
    )  # fmt: skip
    rotation.save()
    rotation._ordered_members = [manager]
    at = at.replace(tzinfo=UTC)
    shift = scheduled_shift(rotation, at)
    if shift is not None:
        assert HORIZON_START <= shift.start <= shift.end <= HORIZON_END
    who_is_on_call(rotation, at)
    for piece in shifts_between(rotation, at, at + datetime.timedelta(days=60)):
        assert piece.start <= piece.end
    assert rotation_ical(rotation, now=at).endswith("END:VCALENDAR\r\n")
    rotation.delete()
