"""The alerts panel shows what senders sent (description, details, source link), bounded and
escaped; timeline times carry their date when not today, the zone, and the exact time."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from incidents import services
from incidents.actors import Actor
from incidents.models import TimelineEntry
from incidents.templatetags.incident_room import DETAILS_MAX_DEPTH, DETAILS_MAX_TOTAL
from tests.factories import open_incident

pytestmark = pytest.mark.django_db


def _panel(html: str) -> str:
    return html[html.index('class="panel alerts-panel"') :]


def test_alerts_panel_shows_description_details_and_source_link(
    generic, post_json, responder_client
):
    _, token = generic
    document = {
        "title": "Checkout bot silent",
        "dedup_key": "checkout",
        "severity": "critical",
        "description": "No answer from the checkout avatar since 03:12.\nEU only.",
        "details": {
            "region": "eu-west-1",
            "error_rate": 0.42,
            "healthy": False,
            "endpoints": ["primary", "secondary"],
            "model": {"name": "gpt-x", "latency_ms": {"p95": 4100}},
            "script": "<script>alert(1)</script>",
        },
        "source_url": "https://grafana.example/d/checkout?from=now-1h",
    }
    assert post_json(f"/hooks/generic/{token}", document).status_code == 202
    incident = generic[0].alerts.get().incident
    panel = _panel(responder_client.get(f"/incidents/{incident.pk}/").content.decode())

    assert "No answer from the checkout avatar since 03:12.<br>EU only." in panel
    for key, value in [
        ("region", "eu-west-1"),
        ("error_rate", "0.42"),
        ("healthy", "false"),
        ("p95", "4100"),
        ("1.", "primary"),
    ]:
        assert f"<dt>{key}</dt><dd>{value}</dd>" in panel
    assert "<dt>model</dt><dd><dl" in panel  # nested, readable, not JSON text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel and "<script>alert" not in panel
    link = re.search(r'<a class="alert-source" ([^>]*)>', panel).group(1)
    assert 'href="https://grafana.example/d/checkout?from=now-1h"' in link
    assert 'rel="noopener noreferrer nofollow"' in link


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "//evil.example", "ftp://x.example"]
)
def test_alerts_panel_links_only_http_sources(generic, post_json, responder_client, url):
    _, token = generic
    post_json(f"/hooks/generic/{token}", {"title": "t", "source_url": url})
    incident = generic[0].alerts.get().incident
    panel = _panel(responder_client.get(f"/incidents/{incident.pk}/").content.decode())
    assert "alert-source" not in panel and 'href="javascript' not in panel


def test_alerts_panel_bounds_deep_and_wide_details(generic, post_json, responder_client):
    _, token = generic
    deep: dict = {"leaf": "bottom"}
    for level in range(30):
        deep = {f"level{level}": deep}
    wide = {f"key{n}": n for n in range(1000)}
    post_json(f"/hooks/generic/{token}", {"title": "t"})
    # Ingest refuses very deep documents; the panel must hold even for what older versions
    # stored or another path writes.
    alert = generic[0].alerts.get()
    alert.details = {"deep": deep, "wide": wide, "long": "x" * 5000}
    alert.save(update_fields=["details"])
    incident = alert.incident
    response = responder_client.get(f"/incidents/{incident.pk}/")
    panel = _panel(response.content.decode())
    assert "bottom" not in panel and "{…}" in panel
    assert panel.count('<dl class="details-list">') <= DETAILS_MAX_DEPTH + 2
    assert panel.count("<dt>") <= DETAILS_MAX_TOTAL + 10
    assert "more</p>" in panel
    assert "x" * 500 + "…" in panel and "x" * 501 not in panel


def test_timeline_shows_date_when_not_today_zone_and_exact_time(
    service, responder, responder_client
):
    responder.time_zone = "Europe/Berlin"
    responder.save(update_fields=["time_zone"])
    with freeze_time("2026-11-27 22:30:00+00:00"):
        incident = open_incident(service)
    with freeze_time("2026-11-29 09:15:07+00:00"):
        services.add_note(incident=incident, actor=Actor.of_user(responder), text="today's note")
        html = responder_client.get(f"/incidents/{incident.pk}/").content.decode()
    opened = TimelineEntry.objects.get(incident=incident, kind="opened")
    timeline = html[html.index('id="room-timeline"') :]
    # Opened two days ago at 23:30 in Berlin: the date and the zone are shown.
    assert (
        f'<time datetime="{opened.at.isoformat()}" '
        'title="2026-11-27T23:30:00.000+01:00 (Europe/Berlin)">2026-11-27 23:30:00 CET</time>'
    ) in timeline
    # Today's entry: the time and the zone only.
    assert 'title="2026-11-29T10:15:07.000+01:00 (Europe/Berlin)">10:15:07 CET</time>' in timeline


def test_timeline_marks_entries_copied_from_a_merged_incident(service, responder, responder_client):
    from incidents.merging import merge_incidents

    keep = open_incident(service, title="keep")
    dup = open_incident(service, title="dup")
    services.add_note(incident=dup, actor=Actor.of_user(responder), text="found the cause")
    merge_incidents(target=keep, source=dup, actor=Actor.of_user(responder))
    html = responder_client.get(f"/incidents/{keep.pk}/").content.decode()
    copied = re.search(r'<li class="entry kind-note from-merged".*?</li>', html, re.S).group(0)
    assert f"from INC-{dup.pk}</a>" in copied and "found the cause" in copied


def test_alerts_panel_last_seen_uses_the_viewers_zone(
    generic, post_json, responder, responder_client
):
    responder.time_zone = "America/New_York"
    responder.save(update_fields=["time_zone"])
    _, token = generic
    post_json(f"/hooks/generic/{token}", {"title": "t"})
    alert = generic[0].alerts.get()
    panel = _panel(responder_client.get(f"/incidents/{alert.incident_id}/").content.decode())
    local = alert.last_seen_at.astimezone(ZoneInfo("America/New_York"))
    assert f'title="{local.isoformat(timespec="milliseconds")} (America/New_York)"' in panel
