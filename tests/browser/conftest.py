"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live_server.

Never a downloaded browser: /usr/bin/chromium (scripts/ensure-chromium installs it on CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import launch_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module", autouse=True)
def _allow_db_beside_playwrights_loop():
    """Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
    the database calls the tests (and the database flush between them) make. Only for the
    browser tests: the variable must not leak into other tests or subprocesses (`check
    --deploy` refuses it)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


# Module scope: Playwright's loop must be gone before other tests use asyncio.run().
@pytest.fixture(scope="module")
def browser(_allow_db_beside_playwrights_loop):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def open_page(viewport=None):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def login(live_server):
    def log_in(page, user):
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/incidents/")
        return page

    return log_in


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def incident_in(service):
    from tests.ui.factories import open_incident

    def make(**kwargs):
        return open_incident(service, **kwargs)

    return make
