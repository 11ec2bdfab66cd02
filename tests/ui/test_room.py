"""The incident room: what it shows, its live poll, panels, declaring incidents."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from incidents import panels, services
from incidents.actors import Actor
from incidents.models import Incident, Status
from tests.factories import ServiceFactory
from tests.ui.conftest import HTMX
from tests.ui.factories import open_incident

pytestmark = pytest.mark.django_db


def _version(html: str) -> str:
    return re.search(r'data-version="([^"]+)"', html).group(1)


def test_room_shows_badges_clocks_and_timeline(responder_client, incident):
    services.add_note(incident=incident, actor=Actor.system("t"), text="first look <b>bold</b>")
    response = responder_client.get(f"/incidents/{incident.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "4 · major" in body and "status-triggered" in body
    assert "left of RTO" in body
    assert "first look &lt;b&gt;bold&lt;/b&gt;" in body
    assert body.index("first look") < body.index("Opened with severity")  # newest first
    assert 'data-action="acknowledge"' in body and 'id="resolve-box"' in body


def test_rto_turns_red_when_over(responder_client, service):
    with freeze_time(timezone.now() - timedelta(minutes=90)):
        incident = open_incident(service)  # the factory's service has a 60 min RTO
    body = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'class="clock rto over"' in body and "RTO over by 30m" in body


def test_resolved_incident_shows_whether_rto_was_met(responder_client, service):
    with freeze_time(timezone.now() - timedelta(minutes=30)):
        incident = open_incident(service)
    services.resolve(incident=incident, actor=Actor.system("t"), note="fixed")
    body = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "within RTO" in body and "data-deadline" not in body
    assert 'data-action="reopen"' in body and 'id="resolve-box"' not in body


def test_other_team_gets_404(outsider_client, incident):
    assert outsider_client.get(f"/incidents/{incident.pk}/").status_code == 404
    assert outsider_client.get(f"/incidents/{incident.pk}/?v=1", **HTMX).status_code == 404


def test_viewer_sees_the_room_without_actions(viewer_client, incident):
    body = viewer_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert incident.title in body
    assert "data-action=" not in body and "needs the responder role" in body


def test_room_poll_204_until_changed_then_fragment(responder_client, incident):
    version = _version(responder_client.get(f"/incidents/{incident.pk}/").content.decode())
    url = f"/incidents/{incident.pk}/?v={version}"
    assert responder_client.get(url, **HTMX).status_code == 204
    services.acknowledge(incident=incident, actor=Actor.system("night shift"))
    response = responder_client.get(url, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert (
        'id="room-timeline" class="room-timeline card" aria-label="Timeline" hx-swap-oob="true"'
        in body
    )
    assert "Acknowledged by night shift" in body


def test_room_poll_sees_entries_other_apps_record(responder_client, incident):
    """services.record() (used by runbooks, escalation...) does not bump updated_at."""
    version = _version(responder_client.get(f"/incidents/{incident.pk}/").content.decode())
    services.record(
        incident=incident, kind="runbook_step", actor=Actor.system("runbooks"), message="step 1"
    )
    response = responder_client.get(f"/incidents/{incident.pk}/?v={version}", **HTMX)
    assert response.status_code == 200 and b"step 1" in response.content


@pytest.mark.parametrize("entries", [1, 60])
def test_room_query_count_does_not_grow_with_timeline(
    entries, responder_client, incident, django_assert_max_num_queries, monkeypatch
):
    # The room's own queries; panels of other apps (escalation, alerts...) bring theirs.
    monkeypatch.setattr("incidents.views.room.panels_for", lambda incident, user: [])
    for n in range(entries):
        services.add_note(incident=incident, actor=Actor.system("t"), text=f"note {n}")
    # 9 before issue 17, + links, snooze/merge (one query) and merge/link candidates.
    with django_assert_max_num_queries(12):
        response = responder_client.get(f"/incidents/{incident.pk}/")
    assert len(response.context["timeline"]) == entries + 1


def test_room_with_every_registered_panel_keeps_a_constant_query_count(responder_client, service):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for entries in (1, 40):
        incident = open_incident(service, title=f"{entries} entries")
        for n in range(entries):
            services.add_note(incident=incident, actor=Actor.system("t"), text=f"note {n}")
        responder_client.get(f"/incidents/{incident.pk}/")  # warm per-session lookups
        with CaptureQueriesContext(connection) as captured:
            assert responder_client.get(f"/incidents/{incident.pk}/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_long_timeline_is_capped(responder_client, incident):
    for n in range(105):
        services.add_note(incident=incident, actor=Actor.system("t"), text=f"note {n}")
    response = responder_client.get(f"/incidents/{incident.pk}/")
    assert len(response.context["timeline"]) == 100 and response.context["timeline_truncated"]


@pytest.fixture
def registered_panels():
    added = []

    def register(panel):
        panels.register_panel(panel)
        added.append(panel.key)

    yield register
    for key in added:
        panels._panels.pop(key, None)


def test_panels_render_with_their_context(responder_client, incident, registered_panels):
    registered_panels(
        panels.IncidentPanel(
            key="test-alerts",
            title="Alerts behind it",
            template="incidents/_flash.html",
            get_context=lambda inc, user: {"error": f"3 alerts for {inc.reference} <i>"},
        )
    )
    registered_panels(
        panels.IncidentPanel(
            key="test-hidden",
            title="Hidden",
            template="incidents/_flash.html",
            get_context=lambda inc, user: None,
        )
    )
    body = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Alerts behind it" in body
    assert f"3 alerts for {incident.reference} &lt;i&gt;" in body
    assert "Hidden" not in body


def test_a_broken_panel_does_not_take_the_room_down(responder_client, incident, registered_panels):
    registered_panels(
        panels.IncidentPanel(
            key="test-broken",
            title="Broken panel",
            template="does/not/exist.html",
            get_context=lambda inc, user: {},
        )
    )
    response = responder_client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    assert b"Broken panel" in response.content and b"unavailable" in response.content


def test_declare_incident_opens_it_and_goes_to_the_room(responder, responder_client, service):
    response = responder_client.post(
        "/incidents/new/",
        {"service": service.pk, "title": "Checkout bot loops", "severity": "5", "summary": "all"},
    )
    incident = Incident.objects.get(title="Checkout bot loops")
    assert response.status_code == 303 and response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.severity == 5 and incident.status == Status.TRIGGERED
    assert incident.created_by_id == responder.pk and incident.summary == "all"
    assert incident.timeline.get().kind == "opened"


def test_declare_form_explains_severities(responder_client, service):
    body = responder_client.get("/incidents/new/").content.decode()
    assert "complete outage" in body and "minor impairment" in body and service.name in body


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"title": "", "severity": "3"}, b"This field is required"),
        ({"title": "x", "severity": "7"}, b"Select a valid choice"),
    ],
)
def test_declare_with_bad_input_is_400(data, needle, responder_client, service):
    response = responder_client.post("/incidents/new/", {"service": service.pk, **data})
    assert response.status_code == 400 and needle in response.content
    assert not Incident.objects.exists()


def test_cannot_declare_for_another_teams_service(responder_client, outsider):
    theirs = ServiceFactory(team=outsider.memberships.get().team)
    response = responder_client.post(
        "/incidents/new/", {"service": theirs.pk, "title": "x", "severity": "3"}
    )
    assert response.status_code == 400 and not Incident.objects.exists()


def test_viewer_cannot_declare(viewer_client, service):
    assert b"responder" in viewer_client.get("/incidents/new/").content
    response = viewer_client.post(
        "/incidents/new/", {"service": service.pk, "title": "x", "severity": "3"}
    )
    assert response.status_code == 400 and not Incident.objects.exists()


def test_room_poll_unchanged_is_cheap(responder_client, incident, django_assert_num_queries):
    version = _version(responder_client.get(f"/incidents/{incident.pk}/").content.decode())
    # session, user, memberships, incident, newest entry
    with django_assert_num_queries(5):
        response = responder_client.get(f"/incidents/{incident.pk}/?v={version}", **HTMX)
    assert response.status_code == 204


def test_room_poll_sees_an_entry_recorded_with_an_earlier_time(responder_client, incident):
    version = _version(responder_client.get(f"/incidents/{incident.pk}/").content.decode())
    services.record(
        incident=incident,
        kind="imported",
        actor=Actor.system("import"),
        message="backfilled",
        at=incident.triggered_at - timedelta(hours=1),
    )
    response = responder_client.get(f"/incidents/{incident.pk}/?v={version}", **HTMX)
    assert response.status_code == 200 and b"backfilled" in response.content
