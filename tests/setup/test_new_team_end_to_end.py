"""Done means: a team set up only through its pages gets a paged engineer for a real failing
endpoint. Set-up through the pages (test client), then the real probe engine against a local
HTTP server that fails, then escalation and the e-mail delivery to the contact method."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import Incident, Source
from monitoring import engine
from monitoring.models import Probe, ProbeState
from oncall.models import EscalationPolicy, Notification
from tests.setup.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery(settings):
    from config.celery import app

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_failing_endpoint_pages_the_engineer_the_team_set_up(
    team, manager, responder, target, eager_celery, django_capture_on_commit_callbacks
):
    boss, engineer = client_for(manager), client_for(responder)
    # The engineer enters their own pager address.
    engineer.post("/oncall/me/contact-methods/", {"kind": "email", "target": "pager@example.com"})
    # The manager sets up a service, a probe on the real endpoint and a policy paging the engineer.
    boss.post("/services/new/", {"team": team.pk, "name": "Chat avatar", "slug": "",
                                 "downtime_cost_per_hour": "0"})  # fmt: skip
    response = boss.post(
        "/services/chat-avatar/probes/new/",
        {"name": "health", "method": "GET", "url": target.url, "headers": "{}",
         "expected_status": "200-299", "timeout_seconds": "2", "interval_seconds": "10",
         "latency_threshold_ms": "3000", "failures_to_open": "2", "successes_to_recover": "1",
         "severity_down": "4", "severity_degraded": "2"},
    )  # fmt: skip
    assert response.status_code == 303
    rules = {f"s{s}_{k}": v for s in "12345" for k, v in (("start", "2"), ("stop", "4"))}
    response = boss.post(
        f"/oncall/policies/new/?team={team.pk}",
        {"team": team.pk, "name": "Nights", "repeat_last_level": "0", "is_team_default": "on",
         **rules, "l2_enabled": "on", "l2_timeout": "10", "l2_users": [str(responder.pk)]},
    )  # fmt: skip
    assert response.status_code == 303
    assert EscalationPolicy.objects.get(team=team).is_team_default

    # The endpoint fails; the engine runs the probe twice (its failures_to_open).
    target.mode = "failing"
    probe = Probe.objects.get(name="health")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            engine.run_batch([probe.pk], claimed_at=timezone.now())
    probe.refresh_from_db()
    assert probe.state == ProbeState.DOWN and target.hits == 2

    incident = Incident.objects.get(service__slug="chat-avatar")
    assert incident.source == Source.PROBE and incident.severity == 4
    page = Notification.objects.get(incident=incident, recipient=responder)
    assert page.target == "pager@example.com" and page.status == "sent"
    assert [m.to for m in mail.outbox] == [["pager@example.com"]]
    assert incident.reference in mail.outbox[0].subject
