"""The public page in a real browser: light and dark, readable at 375 px, no JavaScript needed,
nothing refused by the CSP."""

from __future__ import annotations

import pytest

from incidents import services as incident_services
from incidents.actors import Actor
from statuspage.services import updates

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def playwright_browser(monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.browser_support import launch_chromium

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def busy_page(page, component, service):
    incident, _ = incident_services.open_incident(
        service=service, title="internal", severity=4, actor=Actor.system("t")
    )
    updates.post_update(
        page=page, incident=incident, status="identified",
        body="Answersfromthewebsitechatareunavailablebecauseourmodelproviderisdown " * 3,
        name="Website chat cannot answer", actor=Actor.system("t"),
    )  # fmt: skip
    return page


def _look(browser, url: str, scheme: str, width: int = 375, javascript: bool = True) -> dict:
    context = browser.new_context(
        color_scheme=scheme,
        viewport={"width": width, "height": 800},
        java_script_enabled=javascript,
    )
    tab = context.new_page()
    problems = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    failed = []
    tab.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    response = tab.goto(url)
    assert response.status == 200
    facts = tab.evaluate(
        """() => {
          const body = getComputedStyle(document.body);
          const banner = document.querySelector('.status-overall');
          return {
            scrollWidth: document.documentElement.scrollWidth,
            background: body.backgroundColor,
            colour: body.color,
            bannerBackground: getComputedStyle(banner).backgroundColor,
            bars: document.querySelectorAll('.uptime li').length,
            fontSize: parseFloat(body.fontSize),
          };
        }"""
    )
    facts["problems"] = [p for p in problems if "404" not in p]
    facts["failed"] = [u for u in failed if not u.endswith("/favicon.ico")]
    facts["text"] = tab.inner_text("body")
    context.close()
    return facts


def test_public_page_in_light_and_dark_at_375_px(playwright_browser, live_server, busy_page):
    url = f"{live_server.url}/status/{busy_page.slug}/"
    light = _look(playwright_browser, url, "light")
    dark = _look(playwright_browser, url, "dark")
    for facts in (light, dark):
        assert facts["scrollWidth"] <= 375, facts  # nothing wider than the phone
        assert facts["background"] != facts["colour"]
        assert facts["fontSize"] >= 16
        assert facts["bars"] == 90
        assert facts["failed"] == []  # stylesheets and the theme load
        assert facts["problems"] == []  # the CSP refused nothing (styles come from files)
        assert "Major outage" in facts["text"] and "Website chat cannot answer" in facts["text"]
    assert light["background"] != dark["background"]
    assert light["background"] == "rgb(247, 248, 250)" and dark["background"] == "rgb(17, 20, 24)"


def test_subscribing_works_without_javascript(playwright_browser, live_server, busy_page):
    context = playwright_browser.new_context(
        java_script_enabled=False, viewport={"width": 375, "height": 800}
    )
    tab = context.new_page()
    tab.goto(f"{live_server.url}/status/{busy_page.slug}/")
    tab.fill("#subscribe-email", "reader@example.org")
    tab.click("text=Subscribe")
    assert "Check your inbox" in tab.inner_text("body")
    context.close()
    from statuspage.models import Subscriber

    assert Subscriber.objects.get().target == "reader@example.org"
