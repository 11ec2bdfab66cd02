"""Every write of the incident room: method, team, role, login, htmx and plain form posts."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from accounts.models import AuditLog
from incidents import services
from incidents.actors import Actor
from incidents.models import Status
from tests.ui.conftest import HTMX

pytestmark = pytest.mark.django_db


def _resolved(incident):
    return services.resolve(incident=incident, actor=Actor.system("test"))


# action -> (prepare the incident, POST data (may use the responder), check after, timeline kind)
CASES = {
    "acknowledge": (None, {}, lambda i, u: i.status == Status.ACKNOWLEDGED, "acknowledged"),
    "mitigate": (
        None,
        {"note": "rolled back the prompt"},
        lambda i, u: i.status == Status.MITIGATED,
        "mitigated",
    ),
    "resolve": (
        None,
        {"note": "restarted the <b>gateway</b>"},
        lambda i, u: (
            i.status == Status.RESOLVED and i.resolution_note == "restarted the <b>gateway</b>"
        ),
        "resolved",
    ),
    "reopen": (_resolved, {}, lambda i, u: i.status == Status.TRIGGERED, "reopened"),
    "severity": (
        None,
        {"severity": "5", "reason": "every user"},
        lambda i, u: i.severity == 5,
        "severity_changed",
    ),
    "assign": (None, "assign-me", lambda i, u: i.assignee_id == u.pk, "assigned"),
    "note": (None, {"text": "error rate flat at 40 %"}, lambda i, u: True, "note"),
    "escalate": (None, {}, lambda i, u: i.status == Status.TRIGGERED, "escalation_requested"),
}


def _prepare(action, incident, user):
    prepare, data, check, kind = CASES[action]
    if prepare:
        incident = prepare(incident)
    if data == "assign-me":
        data = {"assignee": str(user.pk)}
    return incident, data, check, kind


def _url(incident, action):
    return f"/incidents/{incident.pk}/{action}/"


@pytest.mark.parametrize("action", CASES)
def test_get_is_not_allowed(action, responder_client, incident):
    assert responder_client.get(_url(incident, action)).status_code == 405


@pytest.mark.parametrize("action", CASES)
def test_anonymous_is_sent_to_login(action, incident):
    response = Client().post(_url(incident, action), {})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize("action", CASES)
def test_another_teams_incident_is_404(action, outsider_client, incident):
    response = outsider_client.post(_url(incident, action), {}, **HTMX)
    assert response.status_code == 404
    assert incident.timeline.count() == 1


@pytest.mark.parametrize("action", CASES)
def test_viewer_is_refused_with_403(action, viewer, viewer_client, incident):
    incident, data, _check, kind = _prepare(action, incident, viewer)
    before = incident.timeline.count()
    plain = viewer_client.post(_url(incident, action), data)
    htmx = viewer_client.post(_url(incident, action), data, **HTMX)
    assert plain.status_code == 403 and htmx.status_code == 403
    assert b"responder role" in htmx.content
    assert incident.timeline.count() == before


@pytest.mark.parametrize("action", CASES)
def test_htmx_post_returns_fragments_and_announces_change(
    action, responder, responder_client, incident
):
    incident, data, check, kind = _prepare(action, incident, responder)
    response = responder_client.post(_url(incident, action), data, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="room-head"' in body and 'id="room-timeline"' in body
    assert 'id="room-forms" hx-swap-oob="true"' in body
    assert "<html" not in body
    trigger = json.loads(response["HX-Trigger"])
    assert trigger["incidentChanged"]["id"] == incident.pk
    assert trigger["incidentChanged"]["action"] == action
    incident.refresh_from_db()
    assert check(incident, responder)
    newest = incident.timeline.order_by("-id").first()
    assert newest.kind == kind and newest.actor_user_id == responder.pk
    assert f'data-entry="{newest.pk}"' in body


@pytest.mark.parametrize("action", CASES)
def test_plain_post_redirects_back_to_the_room(action, responder, responder_client, incident):
    incident, data, check, kind = _prepare(action, incident, responder)
    response = responder_client.post(_url(incident, action), data)
    assert response.status_code == 303
    assert response["Location"] == f"/incidents/{incident.pk}/"
    incident.refresh_from_db()
    assert check(incident, responder)
    assert incident.timeline.order_by("-id").first().kind == kind


def test_board_acknowledge_answers_empty_with_the_event(responder_client, incident):
    response = responder_client.post(_url(incident, "acknowledge"), {"from": "board"}, **HTMX)
    assert response.status_code == 200 and response.content == b""
    assert "incidentChanged" in response["HX-Trigger"]
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED


def test_invalid_transition_is_409_with_the_services_message(responder_client, incident):
    responder_client.post(_url(incident, "acknowledge"))
    response = responder_client.post(_url(incident, "acknowledge"), **HTMX)
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#flash"
    assert b"only triggered incidents can be acknowledged" in response.content
    assert incident.timeline.filter(kind="acknowledged").count() == 1


def test_invalid_transition_without_htmx_shows_message_after_redirect(responder_client, incident):
    _resolved(incident)
    response = responder_client.post(_url(incident, "mitigate"))
    assert response.status_code == 303
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("cannot mitigate" in m for m in messages)


@pytest.mark.parametrize(
    ("action", "data", "needle"),
    [
        ("severity", {"severity": "9"}, b"severity"),
        ("severity", {"severity": "loud"}, b"severity"),
        ("note", {"text": "   "}, b"a note needs some text"),
        ("assign", {"assignee": "999999"}, b"assignee"),
    ],
)
def test_bad_input_is_400_naming_the_problem(action, data, needle, responder_client, incident):
    response = responder_client.post(_url(incident, action), data, **HTMX)
    assert response.status_code == 400
    assert needle in response.content
    assert incident.timeline.count() == 1


def test_assigning_someone_outside_the_team_is_refused(responder_client, incident, outsider):
    response = responder_client.post(
        _url(incident, "assign"), {"assignee": str(outsider.pk)}, **HTMX
    )
    assert response.status_code == 400
    incident.refresh_from_db()
    assert incident.assignee_id is None


def test_same_severity_is_409(responder_client, incident):
    response = responder_client.post(_url(incident, "severity"), {"severity": "4"}, **HTMX)
    assert response.status_code == 409
    assert b"already has severity 4" in response.content


def test_unknown_action_is_404(responder_client, incident):
    assert responder_client.post(_url(incident, "delete"), **HTMX).status_code == 404


def test_post_without_csrf_token_is_403(responder, incident):
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder)
    response = client.post(_url(incident, "acknowledge"), **HTMX)
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


def test_acknowledge_and_resolve_are_audited(responder, responder_client, incident):
    responder_client.post(_url(incident, "acknowledge"), REMOTE_ADDR="198.51.100.7")
    responder_client.post(_url(incident, "resolve"), {"note": "ok"})
    rows = AuditLog.objects.filter(actor=responder, action__startswith="incident.").order_by("id")
    assert [r.action for r in rows] == ["incident.acknowledged", "incident.resolved"]
    assert rows[0].target == incident.reference and rows[0].ip_address == "198.51.100.7"
    assert rows[0].team_id == incident.team_id
