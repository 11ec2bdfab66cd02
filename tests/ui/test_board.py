"""The incident board: filters in the URL, counts, live polling, permissions, query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident
from tests.factories import IncidentFactory, ServiceFactory
from tests.ui.conftest import HTMX
from tests.ui.factories import open_incident

pytestmark = pytest.mark.django_db


def _version(html: str) -> str:
    return re.search(r'data-version="([^"]+)"', html).group(1)


def test_home_redirects_to_the_board(responder_client):
    response = responder_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/incidents/"


def test_board_needs_login():
    response = Client().get("/incidents/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_board_shows_open_incidents_of_own_team_only(responder_client, service, outsider):
    mine = open_incident(service, title="Voice bot mute")
    done = open_incident(service, title="Old hiccup")
    services.resolve(incident=done, actor=Actor.system("t"))
    theirs = open_incident(ServiceFactory(team=outsider.memberships.get().team), title="Secret")
    body = responder_client.get("/incidents/").content.decode()
    assert mine.reference in body and "Voice bot mute" in body
    assert "Old hiccup" not in body
    assert "Secret" not in body and theirs.reference not in body


def test_counts_per_status_and_severity(responder_client, service):
    for sev in (5, 5, 2):
        open_incident(service, severity=sev)
    acked = open_incident(service, severity=3)
    services.acknowledge(incident=acked, actor=Actor.system("t"))
    response = responder_client.get("/incidents/")
    counts = response.context["counts"]
    assert counts["open"] == 4
    assert dict((s, n) for s, _label, n in counts["by_status"])["triggered"] == 3
    assert dict(counts["by_severity"]) == {5: 2, 4: 0, 3: 1, 2: 1, 1: 0}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=all", {"old", "fresh", "sev5", "other"}),
        ("status=resolved", {"old"}),
        ("severity=5", {"sev5"}),
        ("severity=4%2B", {"sev5", "fresh"}),
        ("q=FRE", {"fresh"}),
        ("window=24h&status=all", {"fresh", "sev5", "other"}),
        ("service=svc-other", {"other"}),
    ],
)
def test_filters_from_the_url(query, expected, responder_client, service, team):
    other = ServiceFactory(team=team, slug="svc-other")
    IncidentFactory(
        service=service,
        title="old",
        status="resolved",
        triggered_at=timezone.now() - timedelta(days=3),
    )
    IncidentFactory(service=service, title="fresh", severity=4)
    IncidentFactory(service=service, title="sev5", severity=5)
    IncidentFactory(service=other, title="other", severity=2)
    response = responder_client.get(f"/incidents/?{query}")
    assert response.status_code == 200
    assert {i.title for i in response.context["page"].object_list} == expected


def test_search_by_incident_number(responder_client, service):
    wanted = open_incident(service, title="needle")
    open_incident(service, title="haystack")
    page = responder_client.get(f"/incidents/?q=INC-{wanted.pk}").context["page"]
    assert [i.pk for i in page.object_list] == [wanted.pk]


def test_open_incidents_come_first(responder_client, service):
    resolved_new = IncidentFactory(service=service, status="resolved", title="resolved new")
    open_old = IncidentFactory(
        service=service, title="open old", triggered_at=timezone.now() - timedelta(days=9)
    )
    page = responder_client.get("/incidents/?status=all").context["page"]
    assert [i.pk for i in page.object_list] == [open_old.pk, resolved_new.pk]


@pytest.mark.parametrize(
    "query", ["status=exploded", "severity=9", "window=1y", "sort=random", "team=%3Cx%3E"]
)
def test_bad_filter_is_400_naming_it(query, responder_client):
    response = responder_client.get(f"/incidents/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0].encode() in response.content


def test_htmx_filter_request_gets_the_fragment_only(responder_client, incident):
    response = responder_client.get("/incidents/?status=all", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="board"') and "<html" not in body
    assert "status=all" in re.search(r'hx-get="([^"]+)"', body).group(1)


def test_poll_answers_204_until_something_changes(responder_client, incident):
    version = _version(responder_client.get("/incidents/").content.decode())
    poll = f"/incidents/?v={version}"
    assert responder_client.get(poll, **HTMX).status_code == 204
    services.acknowledge(incident=incident, actor=Actor.system("t"))
    changed = responder_client.get(poll, **HTMX)
    assert changed.status_code == 200
    assert "acknowledged" in changed.content.decode()
    assert _version(changed.content.decode()) != version


def test_poll_sees_a_new_incident(responder_client, service):
    version = _version(responder_client.get("/incidents/").content.decode())
    created = open_incident(service, title="brand new")
    response = responder_client.get(f"/incidents/?v={version}", **HTMX)
    assert response.status_code == 200 and created.reference in response.content.decode()


def test_poll_is_one_query_after_the_session(responder_client, incident, django_assert_num_queries):
    version = _version(responder_client.get("/incidents/").content.decode())
    # session, user, memberships, version
    with django_assert_num_queries(4):
        assert responder_client.get(f"/incidents/?v={version}", **HTMX).status_code == 204


def test_titles_are_escaped(responder_client, service):
    open_incident(service, title='<script>alert("x")</script><img src=x onerror=alert(1)>')
    body = responder_client.get("/incidents/").content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


def test_viewer_sees_no_acknowledge_button(viewer_client, incident):
    body = viewer_client.get("/incidents/").content.decode()
    assert incident.reference in body and 'data-action="acknowledge"' not in body


@pytest.mark.parametrize("rows", [2, 30])
def test_board_query_count_does_not_grow_with_rows(
    rows, responder_client, service, team, django_assert_max_num_queries
):
    for n in range(rows):
        IncidentFactory(
            service=ServiceFactory(team=team) if n % 3 == 0 else service,
            title=f"row {n}",
            assignee=None,
        )
    # 12: one of them measures the ingest backlog for the banner, at most once per
    # INGEST_BACKLOG_CHECK_SECONDS (cached; cold in a test).
    with django_assert_max_num_queries(12):
        response = responder_client.get("/incidents/?status=all")
    assert len(response.context["page"].object_list) == min(rows, 25)


def test_pagination_keeps_the_filters(responder_client, service):
    for n in range(30):
        IncidentFactory(service=service, title=f"row {n}")
    response = responder_client.get("/incidents/?status=all&page=2")
    body = response.content.decode()
    assert len(response.context["page"].object_list) == 5
    assert 'href="?status=all&page=1"' in body


def test_services_overview_derives_state_from_open_incidents(responder_client, team):
    calm = ServiceFactory(team=team, name="Calm")
    burning = ServiceFactory(team=team, name="Burning")
    open_incident(burning, severity=5)
    open_incident(burning, severity=2)
    response = responder_client.get("/services/")
    rows = {r["service"].name: r for r in response.context["rows"]}
    assert rows["Calm"]["state"] == "operational" and rows["Calm"]["service"].open_count == 0
    assert rows["Burning"]["state"] == "major_outage"
    assert rows["Burning"]["service"].open_count == 2
    assert calm.pk != burning.pk


def test_services_overview_hides_other_teams(responder_client, outsider):
    ServiceFactory(team=outsider.memberships.get().team, name="Their secret service")
    assert b"Their secret service" not in responder_client.get("/services/").content


def test_csp_header_forbids_inline_code(responder_client):
    response = responder_client.get("/incidents/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)
    assert ' style="' not in body
    assert Incident.objects.count() == 0


def test_open_first_pages_run_from_open_into_resolved(responder_client, service):
    now = timezone.now()
    opened = [
        IncidentFactory(service=service, title=f"open {n}", triggered_at=now - timedelta(days=n))
        for n in range(3)
    ]
    resolved = [
        IncidentFactory(
            service=service,
            title=f"resolved {n}",
            status="resolved",
            triggered_at=now - timedelta(minutes=n),
        )
        for n in range(30)
    ]
    first = responder_client.get("/incidents/?status=all&sort=open-first").context["page"]
    second = responder_client.get("/incidents/?status=all&sort=open-first&page=2").context["page"]
    assert first.paginator.count == 33 and first.paginator.num_pages == 2
    assert [i.pk for i in first.object_list] == [i.pk for i in opened + resolved[:22]]
    assert [i.pk for i in second.object_list] == [i.pk for i in resolved[22:]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=resolved&severity=3", 2), ("status=open&severity=4%2B", 1), ("severity=2", 0)],
)
def test_page_count_matches_the_filter(query, expected, responder_client, service):
    IncidentFactory(service=service, status="resolved", severity=3)
    IncidentFactory(service=service, status="resolved", severity=3)
    IncidentFactory(service=service, status="resolved", severity=5)
    IncidentFactory(service=service, severity=4)
    IncidentFactory(service=service, severity=3)
    page = responder_client.get(f"/incidents/?{query}").context["page"]
    assert page.paginator.count == expected == len(page.object_list)


def test_team_chosen_in_the_switcher_is_the_default_and_all_widens(responder, team):
    from accounts.models import Role
    from tests.factories import MembershipFactory, TeamFactory

    other_team = TeamFactory()
    MembershipFactory(user=responder, team=other_team, role=Role.VIEWER)
    IncidentFactory(service=ServiceFactory(team=team), title="ours")
    IncidentFactory(service=ServiceFactory(team=other_team), title="theirs")
    client = Client()
    client.force_login(responder)
    titles = lambda url: {i.title for i in client.get(url).context["page"].object_list}  # noqa: E731
    assert titles("/incidents/") == {"ours", "theirs"}
    client.post("/team/switch/", {"team": other_team.pk, "next": "/incidents/"})
    assert titles("/incidents/") == {"theirs"}
    assert titles("/incidents/?team=all") == {"ours", "theirs"}
    assert titles(f"/incidents/?team={team.slug}") == {"ours"}


def test_history_restore_gets_the_whole_page(responder_client, incident):
    response = responder_client.get(
        "/incidents/?status=all", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert response.status_code == 200 and b"<html" in response.content
    assert "HX-Request" in response["Vary"]


def test_services_overview_shows_probe_and_heartbeat_states(
    responder_client, team, django_assert_max_num_queries
):
    from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

    watched = ServiceFactory(team=team, name="Watched")
    ProbeFactory(service=watched, state="up")
    ProbeFactory(service=watched, state="up")
    ProbeFactory(service=watched, state="down")
    HeartbeatFactory(service=watched, state="up")
    ServiceFactory(team=team, name="Unwatched")
    with django_assert_max_num_queries(12):
        response = responder_client.get("/services/")
    rows = {r["service"].name: r for r in response.context["rows"]}
    assert rows["Watched"]["facts"] == ["1 probe down", "2 probes up", "1 heartbeat up"]
    assert rows["Unwatched"]["facts"] == []
    assert "1 probe down" in response.content.decode()
