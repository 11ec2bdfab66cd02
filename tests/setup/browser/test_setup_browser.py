"""A new team sets Vigil up in a real browser: a service, an integration whose example curl opens
an incident against the live server, a probe tested inline, a policy with a preview; and the set-up
pages stay inside a 375 px wide phone screen."""

from __future__ import annotations

import subprocess
from ipaddress import ip_network

import pytest
from playwright.sync_api import expect

from incidents.models import Incident, Service
from monitoring.models import Probe
from oncall.models import ContactMethod, EscalationPolicy, ServiceEscalation
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_team_sets_up_a_service_integration_probe_and_policy(
    live_server, new_page, login, manager, team, target, settings, artifacts
):
    settings.INGEST_APPLY_INLINE = True
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # as shipped: loopback refused
    page = login(new_page(), manager)

    # A service.
    page.goto(f"{live_server.url}/services/")
    page.click("text=New service")
    page.fill("#id_name", "Chat avatar")
    page.fill("#id_rto_minutes", "30")
    page.fill("#id_rpo_minutes", "5")
    page.fill("#id_downtime_cost_per_hour", "900")
    page.click("button:has-text('Create service')")
    page.wait_for_url(f"{live_server.url}/services/chat-avatar/")
    service = Service.objects.get(slug="chat-avatar")
    assert service.team == team and service.rto_minutes == 30

    # An integration: its example curl, run for real, opens an incident on the live server.
    page.click("text=Add generic JSON webhook")
    page.fill("#id_name", "from our scripts")
    page.click("button:has-text('Create integration')")
    expect(page.locator(".token-once")).to_be_visible()
    url = page.locator("#hook-url").inner_text().strip()
    assert url.startswith(live_server.url + "/hooks/generic/")
    example = page.locator("#hook-example").inner_text()
    page.screenshot(path=artifacts / "setup-integration-token.png", full_page=True)
    done = subprocess.run(["sh", "-c", example], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    incident = Incident.objects.get(service=service)
    assert incident.title == "Test alert for Chat avatar"

    # A probe against a real local endpoint, tested inline.
    page.goto(f"{live_server.url}/services/chat-avatar/")
    page.click("text=Add a probe")
    page.fill("#id_name", "health")
    page.fill("#id_url", "http://127.0.0.1:9/health")
    page.fill("#id_interval_seconds", "30")
    page.fill("#id_timeout_seconds", "5")
    page.click("button:has-text('Create probe')")
    # The loopback is refused at the field until an admin allows it: the guard's message shows.
    expect(page.locator("#id_url_error")).to_contain_text("SSRF guard")
    settings.OUTBOUND_ALLOWED_NETWORKS = [ip_network("127.0.0.0/8")]
    page.fill("#id_url", target.url)
    page.click("button:has-text('Create probe')")
    probe = Probe.objects.get(service=service, name="health")
    page.wait_for_url(f"{live_server.url}/monitors/probes/{probe.pk}/")
    page.click("button:has-text('Test now')")
    expect(page.locator("#test-result")).to_contain_text("passed")
    assert target.hits == 1

    # My contact method, then a policy that pages me at L2, checked with the preview.
    page.goto(f"{live_server.url}/oncall/me/contact-methods/")
    page.select_option("#id_kind", "email")
    page.fill("#id_target", "night-pager@example.com")
    page.click("button:has-text('Add')")
    expect(page.locator(".contact-method")).to_contain_text("night-pager@example.com")
    assert ContactMethod.objects.filter(user=manager).count() == 1

    page.goto(f"{live_server.url}/oncall/policies/new/?team={team.pk}")
    page.fill("#id_name", "Nights")
    page.check(f"#level-2 input[name=l2_users][value='{manager.pk}']")
    page.click("button:has-text('Create policy')")
    policy = EscalationPolicy.objects.get(team=team, name="Nights")
    page.wait_for_url(f"{live_server.url}/oncall/policies/{policy.pk}/")
    page.goto(f"{live_server.url}/services/chat-avatar/")
    page.select_option("#service-policy", str(policy.pk))
    page.click("button:has-text('Set policy')")
    expect(page.locator("#section-escalation")).to_contain_text("Pages through")
    assert ServiceEscalation.objects.get(service=service).policy == policy
    page.goto(f"{live_server.url}/oncall/policies/{policy.pk}/?severity=4&service=chat-avatar")
    expect(page.locator(".preview-result")).to_contain_text("night-pager@example.com")
    page.screenshot(path=artifacts / "setup-policy-preview.png", full_page=True)


@pytest.mark.parametrize("path", ["/monitors/", "/services/{slug}/", "/oncall/policies/new/"])
def test_setup_pages_fit_a_375_px_phone(
    live_server, new_page, login, manager, service, path, artifacts
):
    for n in range(3):
        ProbeFactory(
            service=service,
            name=f"a rather long probe name number {n}",
            url=f"https://avatar-{n}.example.com/v1/health/with/a/very/long/path?and=query",
        )
        HeartbeatFactory(service=service, name=f"nightly-export-{n}")
    page = login(new_page(viewport={"width": 375, "height": 800}), manager)
    page.goto(live_server.url + path.format(slug=service.slug))
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.screenshot(
        path=artifacts / f"setup-375{path.replace('/', '-').replace('{slug}', 'svc')}.png",
        full_page=True,
    )
    assert overflow <= 0, f"{path} is {overflow} px wider than the 375 px screen"
