"""The on-call page per team and the iCal feed URL."""

from __future__ import annotations

import datetime

import pytest

from tests.oncall.factories import RotationFactory, RotationMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rotation(team, responder):
    rotation = RotationFactory(
        team=team, name="Primary", time_zone="UTC", start_date=datetime.date(2020, 1, 6)
    )
    RotationMemberFactory(rotation=rotation, user=responder, position=0)
    return rotation


def test_anonymous_is_sent_to_login(client):
    response = client.get("/oncall/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_member_sees_who_is_on_call_now(
    client, viewer, responder, rotation, django_assert_max_num_queries
):
    client.force_login(viewer)
    with django_assert_max_num_queries(25):
        response = client.get("/oncall/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Primary" in html and f"<strong>{responder}</strong>" in html
    assert f"/oncall/rotations/{rotation.pk}/calendar.ics?token={rotation.ical_token}" in html
    assert "style=" not in html and "<script>" not in html


def test_other_teams_rotations_are_not_shown(client, outsider, rotation):
    client.force_login(outsider)
    response = client.get("/oncall/")
    assert response.status_code == 200
    assert "Primary" not in response.content.decode()


def test_post_is_not_allowed(client, viewer):
    client.force_login(viewer)
    assert client.post("/oncall/").status_code == 405


def test_ical_feed_with_its_token_needs_no_login(client, rotation):
    response = client.get(
        f"/oncall/rotations/{rotation.pk}/calendar.ics?token={rotation.ical_token}"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in response.content


def test_ical_feed_refuses_a_wrong_token_and_other_teams(client, rotation, outsider, viewer):
    url = f"/oncall/rotations/{rotation.pk}/calendar.ics"
    assert client.get(url + "?token=guess").status_code == 404
    assert client.get(url).status_code == 404
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(viewer)
    assert client.get(url).status_code == 200
