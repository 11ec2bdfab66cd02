"""The public page, summary.json, the Atom feed and badges: shape, safety, caching, access."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import feedparser
import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from incidents.models import Alert, Incident
from statuspage.models import PublicUpdate, StatusPage
from statuspage.public import uptime_days
from statuspage.services import updates
from tests.factories import IncidentFactory
from tests.statuspage.alerts import alertmanager_document, alertmanager_integration, deliver
from tests.statuspage.factories import ComponentFactory, StatusPageFactory

pytestmark = pytest.mark.django_db


def _post(page, incident, status="investigating", body="We are looking into it."):
    from incidents.actors import Actor

    return updates.post_update(
        page=page, incident=incident, status=status, body=body, actor=Actor.system("test")
    )


def test_summary_json_has_statuspage_shape(
    page, component, service, open_incident, committed, client
):
    incident = open_incident(service, severity=4)
    committed(_post, page, incident, body="Chat is down for everyone.")
    data = client.get("/status/acme/summary.json").json()
    assert set(data) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(data["page"]) >= {"id", "name", "url", "time_zone", "updated_at"}
    assert data["status"] == {"indicator": "critical", "description": "Major System Outage"}
    (entry,) = data["components"]
    assert set(entry) >= {"id", "name", "status", "position", "description", "group_id",
                          "group", "only_show_if_degraded", "updated_at"}  # fmt: skip
    assert (entry["name"], entry["status"], entry["group"]) == (
        "Website chat",
        "major_outage",
        False,
    )
    (public,) = data["incidents"]
    assert set(public) >= {"id", "name", "status", "impact", "created_at", "updated_at",
                           "resolved_at", "shortlink", "incident_updates", "components"}  # fmt: skip
    assert (public["status"], public["impact"], public["resolved_at"]) == (
        "investigating", "critical", None,
    )  # fmt: skip
    (update,) = public["incident_updates"]
    assert set(update) >= {
        "id",
        "status",
        "body",
        "created_at",
        "display_at",
        "affected_components",
    }
    assert update["body"] == "Chat is down for everyone."
    assert data["scheduled_maintenances"] == []
    for value in (data["page"]["updated_at"], public["created_at"], update["display_at"]):
        assert timezone.datetime.fromisoformat(value)


def test_component_groups_appear_as_group_components(page, service, client):
    from statuspage.models import ComponentGroup

    group = ComponentGroup.objects.create(page=page, name="Assistants")
    member = ComponentFactory(page=page, group=group, services=[service])
    components = client.get("/status/acme/summary.json").json()["components"]
    assert components[0]["group"] is True and components[0]["components"] == [str(member.pk)]
    assert components[1]["group_id"] == components[0]["id"]


def test_atom_feed_parses_with_feedparser(
    page, component, service, open_incident, committed, client
):
    incident = open_incident(service, severity=3)
    committed(_post, page, incident, body="First words & <more>.")
    committed(_post, page, incident, status="identified", body="Found it.")
    response = client.get("/status/acme/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == "atom10"
    assert feed.feed.title == "Acme assistants"
    assert [e.summary for e in feed.entries] == ["Found it.", "First words & <more>."]
    assert feed.entries[0].title.endswith("Identified")
    assert len({e.id for e in feed.entries}) == 2


def test_badge_is_svg_with_escaped_name(page, service, client):
    component = ComponentFactory(page=page, name="Chat <&> voice", services=[service])
    response = client.get(f"/status/acme/badge/{component.pk}.svg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
    assert "Chat &lt;&amp;&gt; voice" in response.content.decode()
    assert client.get("/status/acme/badge/999999.svg").status_code == 404


def test_unknown_page_and_login_only_page_answer_404_to_strangers(page, outsider, viewer, client):
    assert client.get("/status/nope/").status_code == 404
    page.is_public = False
    page.save()
    from statuspage.cache import invalidate_pages

    invalidate_pages(["acme"])
    for path in ("/status/acme/", "/status/acme/summary.json", "/status/acme/feed.atom"):
        assert client.get(path).status_code == 404
    client.force_login(outsider)
    assert client.get("/status/acme/").status_code == 404
    client.force_login(viewer)
    response = client.get("/status/acme/")
    assert response.status_code == 200 and "private" in response["Cache-Control"]


def test_status_index_lists_the_teams_pages_for_logged_in_users(page, viewer, client):
    StatusPageFactory(title="Someone else's page")
    assert client.get("/status/").status_code == 302
    client.force_login(viewer)
    html = client.get("/status/").content.decode()
    assert "Acme assistants" in html and "Someone else" not in html
    assert 'href="/status/"' in html  # the navigation links the team's pages


def test_public_page_is_served_from_cache_and_invalidated_on_change(
    page, component, service, open_incident, committed, client, django_assert_max_num_queries
):
    paths = ("/status/acme/", "/status/acme/summary.json", "/status/acme/feed.atom")
    first = client.get("/status/acme/")
    assert first["Cache-Control"] == "public, max-age=15"
    for path in paths:
        client.get(path)  # rendered once
    with django_assert_max_num_queries(0):
        for path in paths:
            assert client.get(path).status_code == 200
    assert "Operational" in first.content.decode()
    open_incident(service, severity=4)
    assert "Major outage" in client.get("/status/acme/").content.decode()


def test_page_works_without_javascript_and_carries_no_script(page, component, client):
    html = client.get("/status/acme/").content.decode()
    assert "<script" not in html and "hx-" not in html
    assert 'method="post" action="/status/acme/subscribe/"' in html
    assert 'name="viewport"' in html and 'name="color-scheme" content="light dark"' in html


def test_uptime_bars_come_from_incident_durations(page, component, service, client):
    now = timezone.now()
    IncidentFactory(service=service, severity=4, status="resolved",
                    triggered_at=now - timedelta(days=3, hours=6),
                    resolved_at=now - timedelta(days=3))  # fmt: skip
    IncidentFactory(service=service, severity=5, status="resolved", is_drill=True,
                    triggered_at=now - timedelta(days=10, hours=6),
                    resolved_at=now - timedelta(days=10))  # fmt: skip
    from statuspage.public import build_snapshot

    (entry,) = build_snapshot(page, now=now)["components"]
    days = entry["uptime_days"]
    assert len(days) == 90
    worst = [d for d in days if d["level"] != "ok"]
    assert [d["level"] for d in worst] and all(d["level"] == "major" for d in worst)
    assert sum(d["down_minutes"] for d in days) == 360
    assert entry["uptime_percent"] < 100


def test_uptime_day_is_split_across_midnight_and_capped_at_now():
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("UTC")
    now = timezone.datetime(2026, 5, 10, 12, 0, tzinfo=zone)
    start = timezone.datetime(2026, 5, 8, 23, 0, tzinfo=zone)
    days = uptime_days(
        [(start, start + timedelta(hours=2), 3)], today=now.date(), zone=zone, now=now
    )
    by_date = {d["date"].isoformat(): d for d in days}
    assert by_date["2026-05-08"]["down_minutes"] == 60 == by_date["2026-05-09"]["down_minutes"]
    assert by_date["2026-05-10"]["uptime"] == 100.0


def test_no_internal_field_on_any_public_page_or_feed(committed, client, settings):
    """seed_demo plus alerts with labels and hosts: nothing internal reaches the public."""
    committed(call_command, "seed_demo", stdout=io.StringIO())
    page = StatusPage.objects.get(slug="demo")
    chat = page.components.get(name="Website chat").services.get()
    integration = alertmanager_integration(chat)
    committed(deliver, integration, alertmanager_document(cause="rate_limit_429"))
    for draft in PublicUpdate.objects.filter(posted_at__isnull=True):
        committed(
            updates.approve_draft,
            update=draft,
            actor=__import__("incidents.actors").actors.Actor.system("t"),
        )
    assert PublicUpdate.objects.filter(posted_at__isnull=False).count() >= 2

    secrets = set()
    for incident in Incident.objects.all():
        secrets |= {incident.title, incident.summary} - {""}
        secrets |= {e.actor_label for e in incident.timeline.all() if e.actor_label}
    for alert in Alert.objects.all():
        secrets |= {f"{k}={v}" for k, v in alert.labels.items()}
        secrets |= {v for k, v in alert.labels.items() if k in ("instance", "job", "alertname")}
        secrets |= set(alert.annotations.values()) | {alert.source_url, alert.fingerprint}
    secrets |= {"alertmanager.example.org", "prometheus.example.org", "avatar-1", "avatar-2"}
    secrets |= set(User.objects.values_list("username", flat=True))
    secrets |= set(User.objects.exclude(email="").values_list("email", flat=True))
    from postmortems.models import PostMortem
    from runbooks.models import Runbook, RunbookStep

    secrets |= set(Runbook.objects.values_list("title", flat=True))
    secrets |= set(RunbookStep.objects.values_list("title", flat=True))
    for postmortem in PostMortem.objects.all():
        secrets |= {v for v in vars(postmortem).values() if isinstance(v, str) and len(v) > 12}
    secrets = {s for s in secrets if s and len(s) >= 4}
    # Service and component names are public by design (they name what customers use).
    # "demo" is the demo actor's label and also the page's own slug, in every URL.
    # Service slugs are in the degradation URL the avatar itself asks for.
    public_words = {"Sales avatar", "Support voice bot", "Knowledge search", "demo"}
    public_words |= {"sales-avatar", "support-voice", "knowledge-search"}
    secrets -= public_words

    paths = ["/status/demo/", "/status/demo/summary.json", "/status/demo/feed.atom",
             "/status/demo/theme.css"]  # fmt: skip
    paths += [f"/status/demo/badge/{c.pk}.svg" for c in page.components.all()]
    paths += [f"/api/v1/services/{s}/degradation" for s in ("sales-avatar", "support-voice")]
    paths += [f"{path}?lang=de" for path in list(paths)]  # the demo page speaks German too
    bodies = {path: client.get(path).content.decode() for path in paths}
    german = bodies["/status/demo/?lang=de"]
    assert "Chat auf der Website" in german and "Komponenten" in german
    assert "Probleme mit Sales avatar" in german or "Antworten von Sales avatar" in german
    assert '"language": "de"' in bodies["/api/v1/services/sales-avatar/degradation?lang=de"]
    for path, body in bodies.items():
        assert client.get(path).status_code == 200, path
        leaked = sorted(s for s in secrets if s in body)
        assert leaked == [], f"{path} shows internal data: {leaked}"
    summary = json.loads(bodies["/status/demo/summary.json"])
    assert summary["status"]["indicator"] in ("major", "critical")


def test_changes_made_by_another_worker_show_within_a_second(page, component, client):
    from django.core.cache import cache
    from freezegun import freeze_time

    from statuspage.models import Component

    with freeze_time("2026-03-02 12:00:00") as frozen:
        assert "Website chat" in client.get("/status/acme/summary.json").content.decode()
        # Another gunicorn worker renames it: only the shared version moves, not our copy.
        Component.objects.filter(pk=component.pk).update(name="Chat on the website")
        cache.incr("statuspage:acme:version")
        assert "Website chat" in client.get("/status/acme/summary.json").content.decode()
        frozen.tick(timedelta(seconds=1.5))
        assert "Chat on the website" in client.get("/status/acme/summary.json").content.decode()
