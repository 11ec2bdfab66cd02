"""The Swagger UI at /api/v1/docs/ renders in a real browser under our strict CSP."""

import pytest

from tests.browser_support import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_swagger_ui_renders_operations_without_csp_violations(live_server, page):
    problems = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" or "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    outside = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(live_server.url) else None,
    )
    page.goto(live_server.url + "/api/v1/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    # Swagger UI virtualises its operation list (only the tags in view are rendered), so the
    # first tag's operations stand for all of them.
    paths = [
        p.replace("\u200b", "") for p in page.locator(".opblock-summary-path").all_inner_texts()
    ]
    assert paths and all(p.startswith("/api/v1/") for p in paths)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Vigil API")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert outside == [], "the docs page must not load anything from another origin"
