"""Real-browser checks: the XSS corpus never executes, and the htmx checklist works under our CSP."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from incidents import services as incident_services
from incidents.actors import Actor
from postmortems.models import PostMortem, Status
from runbooks.models import StepCheck
from runbooks.services import attach_runbook
from tests.browser_support import launch_chromium
from tests.postmortems.factories import draft_for
from tests.runbooks.factories import make_runbook, step
from tests.runbooks.test_markdown import XSS_CORPUS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(live_server, responder, monkeypatch):
    playwright_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls we make between
    # page actions are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client = Client()
    client.force_login(responder)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context()
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        page = context.new_page()
        executed = []
        page.on("dialog", lambda dialog: (executed.append(dialog.message), dialog.dismiss()))
        page.executed = executed
        yield page
        browser.close()


def test_xss_corpus_in_runbooks_and_post_mortems_never_executes(
    browser_page, live_server, team, service, responder
):
    corpus = "\n\n".join(XSS_CORPUS)
    runbook = make_runbook(
        team, title="<img src=x onerror=alert(9)>", body=corpus, steps=[step("x", body=corpus)]
    )
    incident, _ = incident_services.open_incident(
        service=service, title="<script>alert(7)</script>", severity=3, actor=Actor.system("t")
    )
    attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    postmortem = draft_for(service, responder, title="<svg onload=alert(8)>")
    PostMortem.objects.filter(pk=postmortem.pk).update(
        summary=corpus, status=Status.PUBLISHED, published_at=incident.triggered_at
    )
    for path in (
        f"/runbooks/{runbook.pk}/",
        f"/runbooks/incident/{incident.pk}/",
        "/runbooks/",
        f"/postmortems/{postmortem.pk}/",
        f"/postmortems/{postmortem.pk}/print/",
        "/postmortems/search/?q=alert",
    ):
        browser_page.goto(live_server.url + path)
        browser_page.wait_for_load_state("load")
        assert browser_page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    # details elements open on click: a toggle handler would fire now if one survived
    browser_page.goto(f"{live_server.url}/runbooks/incident/{incident.pk}/")
    for summary in browser_page.locator("summary").all():
        summary.click()
    assert browser_page.executed == []


def test_checklist_tick_works_with_htmx_under_the_csp(
    browser_page, live_server, team, service, responder
):
    runbook = make_runbook(team, steps=[step("Drain the pool"), step("Restart")])
    incident, _ = incident_services.open_incident(
        service=service, title="Slow", severity=3, actor=Actor.system("t")
    )
    attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    browser_page.goto(f"{live_server.url}/runbooks/incident/{incident.pk}/")
    browser_page.evaluate("window.vigilNoReload = true")
    browser_page.get_by_role("button", name="Tick Drain the pool").click()
    browser_page.get_by_text("1/2 done").wait_for()
    # htmx swapped the panel in place: a full page load would have dropped the marker
    assert browser_page.evaluate("window.vigilNoReload") is True
    assert StepCheck.objects.get().checked_by == responder
    assert incident.timeline.filter(kind="runbook_step_checked").count() == 1


def test_second_action_click_shows_why_it_was_refused(
    browser_page, live_server, team, service, responder, monkeypatch
):
    from runbooks import tasks
    from runbooks.models import ActionRun

    queued = []
    monkeypatch.setattr(tasks.run_step_action, "delay", queued.append)
    runbook = make_runbook(team, steps=[step("Flush cache", action_url="https://ops.example/f")])
    incident, _ = incident_services.open_incident(
        service=service, title="Slow", severity=3, actor=Actor.system("t")
    )
    attach_runbook(
        incident=incident, runbook=runbook, reason="manual", actor=Actor.of_user(responder)
    )
    browser_page.goto(f"{live_server.url}/runbooks/incident/{incident.pk}/")
    browser_page.get_by_role("button", name="Run action").click()
    browser_page.get_by_text("pending").wait_for()
    browser_page.get_by_role("button", name="Run action").click()
    browser_page.get_by_text("is already running").wait_for()
    # The refusal went into the page's #flash region; the checklist panel stayed in place.
    assert "is already running" in browser_page.locator("#flash").inner_text()
    assert browser_page.get_by_role("button", name="Run action").is_visible()
    assert ActionRun.objects.count() == 1 and len(queued) == 1
