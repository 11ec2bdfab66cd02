"""Analytics, scoring and game days in a real browser: phone width, both colour schemes, the
one-click severity decision through htmx."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import Status
from tests.ui.factories import open_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _history(service):
    from incidents.models import Incident

    now = timezone.now()
    for n in range(6):
        at = now - timedelta(days=3 + n * 7)
        Incident.objects.create(
            team=service.team, service=service, title=f"history {n}", severity=1 + n % 5,
            status=Status.RESOLVED, triggered_at=at, acknowledged_at=at + timedelta(minutes=4),
            resolved_at=at + timedelta(minutes=30 + n), last_seen_at=at, updated_at=at,
        )  # fmt: skip


def test_report_fits_a_phone_in_both_colour_schemes(
    live_server, new_page, login, manager, service, artifacts
):
    _history(service)
    page = login(new_page(viewport={"width": 375, "height": 800}), manager)
    fills = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{live_server.url}/analytics/")
        expect(page.locator("svg.chart").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        fills[scheme] = page.evaluate(
            "getComputedStyle(document.querySelector('.chart-label')).fill"
        )
        page.screenshot(path=artifacts / f"analytics-{scheme}.png", full_page=True)
    # Chart text follows the scheme's foreground colour (dark text on light, light on dark).
    assert fills["light"] == "rgb(23, 24, 28)" and fills["dark"] == "rgb(232, 233, 236)"


def test_filter_form_updates_the_report_in_place(live_server, new_page, login, manager, service):
    _history(service)
    page = login(new_page(), manager)
    page.goto(f"{live_server.url}/analytics/")
    page.evaluate("window.__sameDocument = true")
    page.select_option("select[name=severity]", "5")
    page.click(".report-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"severity=5"))
    expect(page.locator("#report p.muted").first).to_contain_text("drills excluded")
    expect(page.locator("#report p.muted").first).to_contain_text("severity 5")
    assert page.evaluate("window.__sameDocument") is True


def test_accept_the_suggested_severity_in_one_click(
    live_server, new_page, login, responder, service
):
    incident = open_incident(service, title="Avatar silent", severity=2)
    page = login(new_page(), responder)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.fill("input[name=users_affected_percent]", "100")
    page.click("button[name=decision][value=accept]")
    expect(page.locator("#impact-score")).to_contain_text("as it is")
    incident.refresh_from_db()
    assert incident.severity == 4
    expect(page.locator("#room-timeline")).to_contain_text("impact score")
