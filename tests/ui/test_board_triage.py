"""Triage at 3 a.m. (issue 17): the "needs attention" order, bulk actions, severity words,
the tab title's count and the feed of triggered incidents for browser notifications."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, Status, TimelineEntry
from tests.factories import IncidentFactory, MembershipFactory, ServiceFactory
from tests.ui.conftest import HTMX
from tests.ui.factories import open_incident

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def _refs(html: str) -> list[str]:
    return re.findall(r'data-board-row data-incident="(\d+)"', html)


def _mixed_board(service):
    """Statuses and severities mixed, opened at different times, in no useful order."""
    now = timezone.now()

    def make(title, severity, status, minutes_ago):
        return IncidentFactory(
            service=service,
            title=title,
            severity=severity,
            status=status,
            triggered_at=now - timedelta(minutes=minutes_ago),
            resolved_at=now if status == Status.RESOLVED else None,
        )

    return {
        "fresh sev2 triggered": make("fresh sev2 triggered", 2, Status.TRIGGERED, 1),
        "fresh sev2 triggered bis": make("fresh sev2 triggered bis", 2, Status.TRIGGERED, 2),
        "old sev5 triggered": make("old sev5 triggered", 5, Status.TRIGGERED, 90),
        "new sev5 triggered": make("new sev5 triggered", 5, Status.TRIGGERED, 5),
        "sev5 acknowledged": make("sev5 acknowledged", 5, Status.ACKNOWLEDGED, 3),
        "sev1 acknowledged": make("sev1 acknowledged", 1, Status.ACKNOWLEDGED, 200),
        "sev4 mitigated": make("sev4 mitigated", 4, Status.MITIGATED, 30),
        "sev5 resolved old": make("sev5 resolved old", 5, Status.RESOLVED, 500),
        "sev3 resolved new": make("sev3 resolved new", 3, Status.RESOLVED, 10),
    }


NEEDS_ATTENTION = [
    # triggered: worst severity first, then the one waiting longest
    "old sev5 triggered",
    "new sev5 triggered",
    "fresh sev2 triggered bis",
    "fresh sev2 triggered",
    # then acknowledged, then mitigated
    "sev5 acknowledged",
    "sev1 acknowledged",
    "sev4 mitigated",
]


def test_default_board_order_is_needs_attention(responder_client, service):
    made = _mixed_board(service)
    response = responder_client.get("/incidents/")
    assert response.context["filters"].sort == "attention"
    expected = [str(made[title].pk) for title in NEEDS_ATTENTION]
    assert _refs(response.content.decode()) == expected


def test_all_statuses_lists_resolved_last_newest_first(responder_client, service):
    made = _mixed_board(service)
    body = responder_client.get("/incidents/?status=all").content.decode()
    expected = [made[t].pk for t in [*NEEDS_ATTENTION, "sev3 resolved new", "sev5 resolved old"]]
    assert _refs(body) == [str(pk) for pk in expected]


def test_needs_attention_holds_across_pages(responder_client, service, monkeypatch):
    made = _mixed_board(service)
    import sys

    monkeypatch.setattr(sys.modules["incidents.views.board"], "PAGE_SIZE", 3)
    pages = [
        _refs(responder_client.get(f"/incidents/?status=all&page={n}").content.decode())
        for n in (1, 2, 3)
    ]
    expected = [made[t].pk for t in [*NEEDS_ATTENTION, "sev3 resolved new", "sev5 resolved old"]]
    assert sum(pages, []) == [str(pk) for pk in expected]


def test_other_sorts_stay_available_from_the_url(responder_client, service):
    made = _mixed_board(service)
    body = responder_client.get("/incidents/?sort=newest").content.decode()
    assert _refs(body)[0] == str(made["fresh sev2 triggered"].pk)
    assert 'value="newest" selected' in body
    body = responder_client.get("/incidents/?sort=open-first").content.decode()
    assert _refs(body)[0] == str(made["fresh sev2 triggered"].pk)


def test_default_order_reads_the_attention_index(service):
    """The default board query is served in order by incident_team_attention_idx."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plan")
    _mixed_board(service)
    from incidents.board import ATTENTION_ORDER
    from incidents.models import OPEN_STATUSES

    qs = Incident.objects.filter(team_id=service.team_id, status__in=OPEN_STATUSES).order_by(
        *ATTENTION_ORDER
    )[:25]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "incident_team_attention_idx" in plan
    assert "Sort" not in plan.split("incident_team_attention_idx")[0]


# ---- bulk actions ------------------------------------------------------------------------


def test_bulk_acknowledge_reports_the_refused_one_and_does_the_rest(
    responder_client, responder, service
):
    first, second, third = (open_incident(service, title=f"storm {n}") for n in range(3))
    services.resolve(incident=second, actor=SYSTEM)  # resolved by someone else meanwhile
    response = responder_client.post(
        "/incidents/bulk/",
        {
            "incident": [first.pk, second.pk, third.pk],
            "action": "acknowledge",
            "next": "/incidents/?sort=newest",
        },
    )
    assert response.status_code == 303 and response["Location"] == "/incidents/?sort=newest"
    for incident in (first, second, third):
        incident.refresh_from_db()
    assert first.status == third.status == Status.ACKNOWLEDGED
    assert first.acknowledged_by == responder and third.acknowledged_by == responder
    assert second.status == Status.RESOLVED
    assert TimelineEntry.objects.filter(kind="acknowledged", incident=first).count() == 1
    assert not TimelineEntry.objects.filter(kind="acknowledged", incident=second).exists()
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "warning"
    assert "Acknowledged 2 of 3 incidents" in message.message
    assert f"cannot acknowledge {second.reference}: it is resolved" in message.message


def test_bulk_resolve_with_one_note_over_htmx(responder_client, responder, service):
    incidents = [open_incident(service, title=f"dup {n}") for n in range(3)]
    response = responder_client.post(
        "/incidents/bulk/",
        {"incident": [i.pk for i in incidents], "action": "resolve", "note": "Rolled back"},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#flash"
    triggers = json.loads(response["HX-Trigger"])
    assert set(triggers["bulkDone"]["done"]) == {i.pk for i in incidents}
    assert "incidentChanged" in triggers
    assert "Resolved 3 of 3 incidents" in response.content.decode()
    for incident in incidents:
        incident.refresh_from_db()
        assert incident.status == Status.RESOLVED
        assert incident.resolution_note == "Rolled back"
        assert incident.resolved_by == responder


def test_bulk_assign_refuses_an_assignee_outside_the_incidents_team(
    responder_client, responder, service, team
):
    other_team_service = ServiceFactory()
    MembershipFactory(user=responder, team=other_team_service.team, role=Role.RESPONDER)
    colleague = MembershipFactory(team=team, role=Role.RESPONDER).user
    mine = open_incident(service, title="ours")
    theirs = open_incident(other_team_service, title="the other team's")
    response = responder_client.post(
        "/incidents/bulk/",
        {"incident": [mine.pk, theirs.pk], "action": "assign", "assignee": str(colleague.pk)},
        **HTMX,
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.assignee == colleague and theirs.assignee is None
    body = response.content.decode()
    assert "Assigned 1 of 2 incidents" in body and f"cannot assign {theirs.reference}" in body


def test_bulk_assign_to_me(responder_client, responder, service):
    incidents = [open_incident(service, title=f"mine {n}") for n in range(2)]
    responder_client.post(
        "/incidents/bulk/",
        {"incident": [i.pk for i in incidents], "action": "assign", "assignee": "me"},
    )
    assert set(Incident.objects.filter(assignee=responder).values_list("pk", flat=True)) == {
        i.pk for i in incidents
    }


def test_bulk_reports_another_teams_incident_as_not_found(responder_client, service, outsider):
    mine = open_incident(service, title="ours")
    theirs = open_incident(ServiceFactory(team=outsider.memberships.get().team), title="secret")
    response = responder_client.post(
        "/incidents/bulk/", {"incident": [mine.pk, theirs.pk], "action": "acknowledge"}, **HTMX
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == Status.ACKNOWLEDGED and theirs.status == Status.TRIGGERED
    body = response.content.decode()
    assert f"{theirs.reference} was not found in your teams" in body
    assert "secret" not in body


def test_bulk_as_viewer_is_refused_per_incident(viewer_client, service):
    incident = open_incident(service)
    response = viewer_client.post(
        "/incidents/bulk/", {"incident": [incident.pk], "action": "acknowledge"}, **HTMX
    )
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert "you need the responder role" in response.content.decode()


def test_bulk_needs_post_login_and_a_selection(responder_client, service):
    assert responder_client.get("/incidents/bulk/").status_code == 405
    anonymous = Client().post("/incidents/bulk/", {"incident": [1], "action": "acknowledge"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    empty = responder_client.post("/incidents/bulk/", {"action": "acknowledge"}, **HTMX)
    assert empty.status_code == 400 and "select at least one incident" in empty.content.decode()
    bad = responder_client.post(
        "/incidents/bulk/", {"incident": ["x"], "action": "explode"}, **HTMX
    )
    assert bad.status_code == 400


def test_bulk_plain_post_never_redirects_off_the_board(responder_client, service):
    incident = open_incident(service)
    response = responder_client.post(
        "/incidents/bulk/",
        {"incident": [incident.pk], "action": "acknowledge", "next": "https://evil.example/"},
    )
    assert response.status_code == 303 and response["Location"] == "/incidents/"


def test_board_rows_carry_checkboxes_for_the_bulk_form(responder_client, viewer_client, service):
    incident = open_incident(service)
    body = responder_client.get("/incidents/").content.decode()
    assert 'id="bulk"' in body and 'action="/incidents/bulk/"' in body
    assert f'name="incident" value="{incident.pk}" form="bulk"' in body
    viewer_body = viewer_client.get("/incidents/").content.decode()
    assert 'id="bulk"' not in viewer_body and 'name="incident"' not in viewer_body


# ---- severity words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (5, "5 · outage"),
        (4, "4 · major"),
        (3, "3 · significant"),
        (2, "2 · degraded"),
        (1, "1 · minor"),
        ("5", "5 · outage"),
    ],
)
def test_severity_label_filter(value, label):
    rendered = Template("{{ value|severity_label }}").render(Context({"value": value}))
    assert rendered == label


def test_severity_badge_has_one_class_per_level_and_the_long_word_on_hover():
    rendered = Template(
        "{{ 5|severity_badge }}|{{ 9|severity_badge }}|{{ None|severity_label }}"
    ).render(Context({}))
    assert rendered == (
        '<span class="badge sev sev-5" title="complete outage">5 · outage</span>|9|'
    )


def test_board_and_room_show_the_severity_word(responder_client, service):
    incident = open_incident(service, severity=5)
    board = responder_client.get("/incidents/").content.decode()
    assert "5 · outage" in board and "Sev 5" not in board
    room = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert '<span class="badge sev sev-5" title="complete outage">5 · outage</span>' in room


# ---- tab title count and the notifications feed --------------------------------------------


def test_board_carries_the_count_of_triggered_incidents(responder_client, service):
    open_incident(service)
    open_incident(service, title="second")
    acked = open_incident(service, title="third")
    services.acknowledge(incident=acked, actor=SYSTEM)
    body = responder_client.get("/incidents/", **HTMX).content.decode()
    assert 'data-triggered="2"' in body


def test_attention_feed_lists_triggered_incidents_of_own_teams(responder_client, service, outsider):
    older = open_incident(service, title="older", severity=2)
    newer = open_incident(service, title="newer", severity=5)
    acked = open_incident(service, title="acked")
    services.acknowledge(incident=acked, actor=SYSTEM)
    open_incident(ServiceFactory(team=outsider.memberships.get().team), title="secret")
    response = responder_client.get("/incidents/attention/")
    assert response.status_code == 200
    data = response.json()
    assert data["triggered"] == 2
    assert [i["id"] for i in data["incidents"]] == [newer.pk, older.pk]
    assert data["incidents"][0]["severity_label"] == "5 · outage"
    assert data["incidents"][0]["url"] == f"/incidents/{newer.pk}/"
    assert Client().get("/incidents/attention/").status_code == 302
