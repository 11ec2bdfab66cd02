"""Acknowledging assigns; links between incidents; snoozing from the room."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from incidents import links, services, snooze
from incidents.actors import Actor
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.models import IncidentLink, Status
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, open_incident
from tests.room.conftest import HTMX

pytestmark = pytest.mark.django_db


# --- acknowledging assigns ----------------------------------------------------------------


def test_acknowledge_assigns_the_acknowledger_when_nobody_is(service, responder):
    incident = open_incident(service)
    services.acknowledge(incident=incident, actor=Actor.of_user(responder))
    incident.refresh_from_db()
    assert incident.assignee == responder and incident.acknowledged_by == responder
    entry = incident.timeline.get(kind="acknowledged")
    assert entry.message == f"Acknowledged by {responder.username}, who is now assigned"
    assert entry.data == {"assignee_id": responder.pk}


def test_acknowledge_keeps_an_existing_assignee(service, responder, manager):
    incident = open_incident(service)
    services.assign(incident=incident, assignee=manager, actor=Actor.of_user(manager))
    services.acknowledge(incident=incident, actor=Actor.of_user(responder))
    incident.refresh_from_db()
    assert incident.assignee == manager and incident.acknowledged_by == responder


def test_acknowledge_by_an_integration_or_an_outsider_assigns_nobody(service, outsider):
    first = open_incident(service)
    services.acknowledge(incident=first, actor=Actor.integration("pagerduty"))
    second = open_incident(service, title="second")
    # A specialist of another team acknowledging from a page is not this team's responder.
    services.acknowledge(incident=second, actor=Actor.of_user(outsider))
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.status == Status.ACKNOWLEDGED and incident.assignee is None


def test_acknowledge_from_the_room_assigns(service, responder, responder_client):
    incident = open_incident(service)
    response = responder_client.post(f"/incidents/{incident.pk}/acknowledge/", **HTMX)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.assignee == responder


# --- links --------------------------------------------------------------------------------


def test_link_is_symmetric_listed_in_both_rooms_and_removable(service, responder_client):
    one = open_incident(service, title="Checkout slow")
    two = open_incident(service, title="Payments provider degraded")
    response = responder_client.post(f"/incidents/{two.pk}/link/", {"other": one.pk})
    assert response.status_code == 303
    link = IncidentLink.objects.get()
    assert (link.first_id, link.second_id) == (one.pk, two.pk)
    for here, there in ((one, two), (two, one)):
        html = responder_client.get(f"/incidents/{here.pk}/").content.decode()
        related = html[html.index('id="room-related"') :]
        assert f'data-linked="{there.pk}"' in related and there.title in related
        assert here.timeline.get(kind="linked").data == {"other_id": there.pk}

    response = responder_client.post(f"/incidents/{one.pk}/unlink/", {"other": two.pk}, **HTMX)
    assert response.status_code == 200 and "incidentChanged" in response["HX-Trigger"]
    assert not IncidentLink.objects.exists()
    assert two.timeline.filter(kind="unlinked").count() == 1
    assert 'id="room-related"' not in responder_client.get(f"/incidents/{one.pk}/").content.decode()


def test_link_refusals(service, responder, responder_client, viewer_client, outsider):
    one = open_incident(service, title="one")
    two = open_incident(service, title="two")
    actor = Actor.of_user(responder)
    links.link_incidents(incident=one, other=two, actor=actor)
    with pytest.raises(InvalidTransition, match="already linked"):
        links.link_incidents(incident=two, other=one, actor=actor)
    with pytest.raises(InvalidIncidentInput, match="to itself"):
        links.link_incidents(incident=one, other=one, actor=actor)
    with pytest.raises(InvalidTransition, match="not linked"):
        links.unlink_incidents(incident=one, other=open_incident(service, title="3"), actor=actor)
    elsewhere = open_incident(ServiceFactory(team=outsider.memberships.first().team))
    assert (
        responder_client.post(f"/incidents/{one.pk}/link/", {"other": elsewhere.pk}).status_code
        == 404
    )
    assert viewer_client.post(f"/incidents/{one.pk}/unlink/", {"other": two.pk}).status_code == 403
    assert responder_client.get(f"/incidents/{one.pk}/link/").status_code == 405
    assert IncidentLink.objects.count() == 1


def test_a_member_of_two_teams_cannot_link_across_them(service, responder):
    other_team = TeamFactory()
    MembershipFactory(team=other_team, user=responder)
    one = open_incident(service)
    elsewhere = open_incident(ServiceFactory(team=other_team))
    with pytest.raises(InvalidTransition, match="one team"):
        links.link_incidents(incident=one, other=elsewhere, actor=Actor.of_user(responder))


# --- snooze from the room -----------------------------------------------------------------


def test_snooze_is_shown_in_the_room_and_can_be_cancelled(service, responder, responder_client):
    incident = open_incident(service)
    with freeze_time("2026-03-02 10:00:00+00:00"):
        services.acknowledge(incident=incident, actor=Actor.of_user(responder))
        response = responder_client.post(
            f"/incidents/{incident.pk}/snooze/", {"minutes": "120"}, **HTMX
        )
        assert response.status_code == 200
        html = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    note = html[html.index('id="snooze-note"') :]
    assert "Snoozed until" in note and 'datetime="2026-03-02T12:00:00+00:00"' in note
    entry = incident.timeline.get(kind="snoozed")
    assert entry.data["minutes"] == 120 and "for 2 h" in entry.message

    response = responder_client.post(f"/incidents/{incident.pk}/unsnooze/", **HTMX)
    assert response.status_code == 200
    assert snooze.active_snooze(incident) is None
    assert (
        'id="snooze-note"'
        not in responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    )
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


@pytest.mark.parametrize("minutes", ["0", "-5", "10081", "soon", ""])
def test_snooze_refuses_bad_durations(service, responder, responder_client, minutes):
    incident = open_incident(service)
    services.acknowledge(incident=incident, actor=Actor.of_user(responder))
    response = responder_client.post(
        f"/incidents/{incident.pk}/snooze/", {"minutes": minutes}, **HTMX
    )
    assert response.status_code == 400
    assert snooze.active_snooze(incident) is None


def test_only_acknowledged_incidents_can_be_snoozed(service, responder_client, viewer_client):
    incident = open_incident(service)
    response = responder_client.post(f"/incidents/{incident.pk}/snooze/", {"minutes": 30}, **HTMX)
    assert response.status_code == 409
    assert "only acknowledged incidents can be snoozed" in response.content.decode()
    assert (
        viewer_client.post(f"/incidents/{incident.pk}/snooze/", {"minutes": 30}).status_code == 403
    )


def test_snoozing_again_moves_the_due_time(service, responder):
    incident = open_incident(service)
    actor = Actor.of_user(responder)
    with freeze_time("2026-03-02 10:00:00+00:00") as clock:
        services.acknowledge(incident=incident, actor=actor)
        snooze.snooze_incident(incident=incident, minutes=30, actor=actor)
        clock.tick(timedelta(minutes=20))
        again = snooze.snooze_incident(incident=incident, minutes=30, actor=actor)
        clock.tick(timedelta(minutes=15))
        assert snooze.wake_due_snoozes() == 0
        assert again.until.isoformat() == "2026-03-02T10:50:00+00:00"
        clock.tick(timedelta(minutes=16))
        assert snooze.wake_due_snoozes() == 1
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
