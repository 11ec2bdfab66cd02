"""The incident room in a real browser (issue 17): merge a duplicate, and a phone-sized room
(and monitors page) with no horizontal scroll, the timeline before the forms."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from incidents.models import Alert, IncidentMerge, Status
from tests.factories import (
    EscalationLevelFactory,
    EscalationPolicyFactory,
    HeartbeatFactory,
    ProbeFactory,
    ServiceEscalationFactory,
    UserFactory,
    make_integration,
    open_incident,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "averyveryverylongidentifierwithoutanyspaces" * 3


def test_merge_a_duplicate_in_the_room(live_server, new_page, login, responder, service, artifacts):
    keep = open_incident(service, title="Checkout avatar silent", dedup_key="checkout")
    duplicate = open_incident(service, title="Checkout answers 500", dedup_key="checkout-500")
    page = login(new_page(), responder)
    page.goto(f"{live_server.url}/incidents/{keep.pk}/")
    page.evaluate("window.__sameDocument = true")

    page.click("#merge-box summary")
    page.select_option("#merge-other", str(duplicate.pk))
    page.click("[data-action=merge]")

    expect(page.locator("#room-timeline li.entry.kind-merged").first).to_contain_text(
        f"{duplicate.reference} (Checkout answers 500) merged into this incident"
    )
    expect(page.locator("#room-timeline li.from-merged").first).to_contain_text(
        f"from {duplicate.reference}"
    )
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=artifacts / "room-merged.png", full_page=True)
    duplicate.refresh_from_db()
    assert duplicate.status == Status.RESOLVED
    assert IncidentMerge.objects.get().target_id == keep.pk

    page.goto(f"{live_server.url}/incidents/{duplicate.pk}/")
    expect(page.locator("#merged-into")).to_contain_text(f"Merged into {keep.reference}")
    page.click("#merged-into a")
    page.wait_for_url(f"{live_server.url}/incidents/{keep.pk}/")


def _busy_incident(service, responder):
    """An incident with everything the room can show: a long title, alerts with details and a
    long source URL, an escalation table, links, a snooze."""
    from incidents import links, services, snooze
    from incidents.actors import Actor

    policy = EscalationPolicyFactory(team=service.team, name="Default")
    people = [UserFactory(username=f"person-with-a-long-name-{n}-{LONG[:30]}") for n in range(3)]
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=10, users=people)
    ServiceEscalationFactory(service=service, policy=policy)
    incident = open_incident(
        service, title=f"Checkout avatar silent {LONG}", run_events=True, dedup_key="busy"
    )
    integration, _ = make_integration(service, "generic")
    now = incident.triggered_at
    Alert.objects.create(
        integration=integration, incident=incident, fingerprint=LONG, status="firing",
        severity=4, summary=f"Alert {LONG}", first_seen_at=now, last_seen_at=now,
        annotations={"description": f"What happened: {LONG}"},
        details={"region": "eu-west-1", "trace": LONG, "nested": {"key": LONG, "list": [LONG]}},
        source_url=f"https://grafana.example/d/{LONG}?from=now-1h&to=now&var-x={LONG}",
        labels={"alertname": LONG, "instance": f"{LONG}:9090"},
    )  # fmt: skip
    other = open_incident(service, title=f"Payments degraded {LONG}")
    actor = Actor.of_user(responder)
    links.link_incidents(incident=incident, other=other, actor=actor)
    services.add_note(incident=incident, actor=actor, text=f"Looked at {LONG}")
    services.acknowledge(incident=incident, actor=actor)
    snooze.snooze_incident(incident=incident, minutes=60, actor=actor)
    return incident


def _overflowing_cards(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.room .card, .room-panels .panel')]
            .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                          || el.scrollWidth > el.clientWidth + 1)
            .map(el => el.id || el.className)"""
    )


def test_room_fits_a_375_px_phone_with_the_timeline_before_the_forms(
    live_server, new_page, login, responder, service, artifacts
):
    incident = _busy_incident(service, responder)
    page = login(new_page(viewport={"width": 375, "height": 800}), responder)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("#panel-escalation table")).to_be_visible()
    expect(page.locator("#snooze-note")).to_be_visible()
    page.screenshot(path=artifacts / "room-375.png", full_page=True)
    page.locator("#room-head").screenshot(path=artifacts / "room-375-head.png")
    page.locator("#panel-escalation").screenshot(path=artifacts / "room-375-escalation.png")
    page.locator("#panel-alerts").screenshot(path=artifacts / "room-375-alerts.png")

    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert _overflowing_cards(page) == []
    timeline_top = page.locator("#room-timeline").bounding_box()["y"]
    forms_top = page.locator("#room-forms").bounding_box()["y"]
    assert timeline_top < forms_top


def test_escalation_table_stays_inside_its_card_on_desktop(
    live_server, new_page, login, responder, service, artifacts
):
    incident = _busy_incident(service, responder)
    page = login(new_page(viewport={"width": 1280, "height": 900}), responder)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator("#panel-escalation table")).to_be_visible()
    page.screenshot(path=artifacts / "room-desktop.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert _overflowing_cards(page) == []


def test_monitors_fit_a_375_px_phone(live_server, new_page, login, manager, service, artifacts):
    for n in range(3):
        ProbeFactory(
            service=service,
            name=f"probe {n} {LONG[:90]}",
            url=f"https://avatar-{n}.example.com/{LONG}/health?and={LONG}",
        )
        HeartbeatFactory(service=service, name=f"nightly-export-{n}-{LONG[:90]}")
    page = login(new_page(viewport={"width": 375, "height": 800}), manager)
    page.goto(f"{live_server.url}/monitors/")
    page.screenshot(path=artifacts / "monitors-375.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
