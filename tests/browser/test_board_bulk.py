"""The board in a real browser (issue 17): bulk acknowledge, browser notifications for a new
triggered incident, the "?" help, the tab title, and clearing the search."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from incidents import services
from incidents.actors import Actor
from incidents.models import Status
from tests.ui.factories import open_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every Notification the page creates (and still shows it), before any page script runs.
RECORD_NOTIFICATIONS = """
(() => {
  const Original = window.Notification;
  if (!Original) return;
  window.__notifications = [];
  function Recording(title, options) {
    window.__notifications.push({ title, body: (options || {}).body, tag: (options || {}).tag });
    try { return new Original(title, options); } catch (error) { return { close() {} }; }
  }
  Recording.requestPermission = (...args) => Original.requestPermission(...args);
  Object.defineProperty(Recording, "permission", { get: () => Original.permission });
  window.Notification = Recording;
})();
"""


def test_bulk_acknowledge_reports_the_refused_one(new_page, login, responder, service, artifacts):
    first = open_incident(service, title="Storm one", severity=3)
    second = open_incident(service, title="Storm two", severity=3)
    third = open_incident(service, title="Storm three", severity=3)
    page = login(new_page(), responder)
    board = page.locator("#board")
    expect(board).to_contain_text(third.reference)
    expect(page).to_have_title(re.compile(r"^\(3\) Incidents"))
    acknowledge = page.locator("#bulk [data-bulk-action=acknowledge]")
    expect(acknowledge).to_be_disabled()

    # The keyboard way: j/k select a row, x checks it (oldest first among equals).
    page.keyboard.press("j")
    expect(page.locator("tr[data-board-row].selected")).to_contain_text(first.reference)
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    # ... and the mouse way; shortcuts still work with the focus on a checkbox.
    page.check(f"input[data-bulk-pick][value='{third.pk}']")
    page.keyboard.press("k")
    expect(page.locator("tr[data-board-row].selected")).to_contain_text(first.reference)
    expect(page.locator("[data-bulk-count]")).to_have_text("3 checked:")
    # Checks survive the board's live re-render.
    open_incident(service, title="Unrelated newcomer", severity=1)
    expect(board).to_contain_text("Unrelated newcomer")
    expect(page.locator("input[data-bulk-pick]:checked")).to_have_count(3)

    # Someone resolves the second one meanwhile: it is refused, the other two are done.
    services.resolve(incident=second, actor=Actor.system("elsewhere"))
    page.evaluate("window.__sameDocument = true")
    acknowledge.click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("Acknowledged 2 of 3 incidents")
    expect(flash).to_contain_text(f"cannot acknowledge {second.reference}: it is resolved")
    expect(page.locator(f"tr[data-incident='{first.pk}'] .badge.status")).to_have_text(
        "acknowledged"
    )
    expect(page.locator("input[data-bulk-pick]:checked")).to_have_count(0)
    expect(page).to_have_title(re.compile(r"^\(1\) Incidents"))
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=artifacts / "board-bulk.png", full_page=True)
    for incident in (first, second, third):
        incident.refresh_from_db()
    assert first.status == third.status == Status.ACKNOWLEDGED
    assert first.acknowledged_by == responder and third.acknowledged_by == responder
    assert second.status == Status.RESOLVED


def test_notification_for_a_new_triggered_incident_of_the_chosen_severity(
    live_server, new_page, login, responder, service
):
    open_incident(service, title="Already triggered before", severity=5)
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    page.context.add_init_script(RECORD_NOTIFICATIONS)
    login(page, responder)
    page.click("[data-notify-settings] summary")
    page.select_option("[data-notify-min]", "4")
    page.check("[data-notify-enable]")
    expect(page.locator("[data-notify-state]")).to_contain_text("On for severity 4 and worse")
    expect(page.locator("[data-notify-enable]")).to_be_checked()

    minor = open_incident(service, title="Minor blip", severity=2)
    expect(page.locator("#board")).to_contain_text(minor.reference)
    outage = open_incident(service, title="Voice bot answers nothing", severity=5)
    page.wait_for_function(
        "ref => (window.__notifications || []).some(n => n.title.startsWith(ref))",
        arg=outage.reference,
    )
    shown = page.evaluate("window.__notifications")
    assert [n["title"] for n in shown] == [f"{outage.reference} · 5 · outage"]
    assert "Voice bot answers nothing" in shown[0]["body"]
    assert shown[0]["tag"] == f"vigil-incident-{outage.pk}"

    # The setting is kept in this browser: a room opened later also watches.
    page.goto(f"{live_server.url}/incidents/{minor.pk}/")
    expect(page.locator("[data-room]")).to_have_count(1)
    other = open_incident(service, title="Checkout model down", severity=4)
    page.wait_for_function(
        "ref => (window.__notifications || []).some(n => n.title.startsWith(ref))",
        arg=other.reference,
        timeout=15_000,
    )


def test_question_mark_shows_the_shortcuts_and_a_cleared_search_selects_nothing(
    new_page, login, responder, service
):
    hidden_by_search = open_incident(service, title="Payments model slow", severity=5)
    open_incident(service, title="Chat avatar frozen", severity=3)
    page = login(new_page(), responder)
    expect(page.locator("#board")).to_contain_text(hidden_by_search.reference)

    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("check or uncheck")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.keyboard.press("j")  # the sev-5 incident is first
    expect(page.locator("tr[data-board-row].selected")).to_contain_text(hidden_by_search.reference)
    page.keyboard.press("/")
    page.keyboard.type("Chat avatar")
    expect(page.locator("#board")).not_to_contain_text(hidden_by_search.reference)
    page.fill("#q", "")
    expect(page.locator("#board")).to_contain_text(hidden_by_search.reference)
    expect(page.locator("tr[data-board-row].selected")).to_have_count(0)
