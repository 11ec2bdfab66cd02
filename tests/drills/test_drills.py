"""Game days end to end: injection into the real probe engine, the DRILL marker on every
message, the drill report's timings, and the refusals (404, 409)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from analytics import metrics
from analytics.scope import Scope
from drills import services
from drills.models import Drill, DrillStatus, Scenario
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident, Status
from monitoring import engine
from monitoring.models import ProbeState
from oncall.models import Notification
from tests.factories import ServiceFactory
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db


def run(probe):
    engine.run_batch([probe.pk], claimed_at=timezone.now())
    probe.refresh_from_db()
    return probe.results.order_by("-at", "-id").first()


@pytest.fixture
def probe(service, target):
    probe = ProbeFactory(service=service, url=target.url, name="sales-avatar", failures_to_open=2)
    assert run(probe).ok and probe.state == ProbeState.UP
    return probe


def _schedule(client, service, probe, **extra):
    body = {"service": service.slug, "name": "Tuesday game day", "scenario": "probe_down",
            "probe": probe.pk, "duration_minutes": 30, "start_now": True, **extra}  # fmt: skip
    return client.post("/api/v1/drills/", body, content_type="application/json")


def test_drill_end_to_end_with_the_real_probe_engine(
    client, team, service, manager, ladder, probe, committed, settings
):
    settings.DRILLS_PAGE_PEOPLE = True  # this team rehearses with real pages, marked DRILL
    client.force_login(manager)
    response = _schedule(client, service, probe)
    assert response.status_code == 201, response.content
    drill = Drill.objects.get(pk=response.json()["id"])
    assert drill.status == DrillStatus.RUNNING and drill.started_at is not None

    first = committed(run, probe)
    assert not first.ok and "DRILL" in first.message
    assert not Incident.objects.exists()
    committed(run, probe)  # the second injected failure opens the incident
    incident = Incident.objects.get()
    assert incident.is_drill and incident.dedup_key == f"probe:{probe.pk}"
    drill.refresh_from_db()
    assert drill.incident_id == incident.pk
    assert "drill" in list(incident.timeline.values_list("kind", flat=True))
    budget = timedelta(seconds=probe.interval_seconds * probe.failures_to_open + 2)
    assert incident.triggered_at - drill.started_at <= budget

    # The real escalation path ran: the on-call engineer got mail saying DRILL; the L1
    # automated action (a restart of the real avatar) did not run.
    assert mail.outbox, "the L2 engineer should have been paged"
    assert all(m.subject.startswith("[DRILL]") for m in mail.outbox)
    assert all("DRILL" in m.body.splitlines()[0] for m in mail.outbox)
    assert not Notification.objects.filter(incident=incident, purpose="action").exists()
    assert Notification.objects.filter(incident=incident).exists()

    committed(
        incident_services.acknowledge, incident=incident, actor=Actor.of_user(ladder.engineer)
    )
    response = client.post(f"/api/v1/drills/{drill.pk}/abort/")
    assert response.status_code == 200 and response.json()["status"] == "aborted"

    # Aborted: the engine reports the real (healthy) answers again and the probe recovers.
    assert run(probe).ok
    committed(run, probe)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED

    report = client.get(f"/api/v1/drills/{drill.pk}/report/").json()
    drill.refresh_from_db()
    measured = {m["key"]: m for m in report["measures"]}
    assert measured["detect"]["actual_seconds"] == pytest.approx(
        (incident.triggered_at - drill.started_at).total_seconds()
    )
    assert measured["detect"]["target_seconds"] == budget.total_seconds()
    assert measured["detect"]["verdict"] == "met"
    assert measured["ack"]["actual_seconds"] == pytest.approx(
        (incident.acknowledged_at - incident.triggered_at).total_seconds()
    )
    assert measured["recover"]["actual_seconds"] == pytest.approx(
        (incident.resolved_at - drill.started_at).total_seconds()
    )
    assert measured["recover"]["target_seconds"] == service.rto_minutes * 60
    assert report["all_marked_drill"] is True and report["people_paged"] >= 1
    page = client.get(reverse("drills:detail", args=[drill.pk])).content.decode()
    assert "every one marked DRILL" in page and incident.reference in page
    room = client.get(reverse("incident-room", args=[incident.pk])).content.decode()
    assert "DRILL — a game day, not a real outage." in room

    # Drills stay out of the real statistics unless asked for.
    now = timezone.now()
    scope = Scope(team=team, start=now - timedelta(days=1), end=now + timedelta(days=1), now=now)
    assert metrics.timings(scope)["overall"].incidents == 0
    with_drills = Scope(team=team, start=scope.start, end=scope.end, now=now, include_drills=True)
    assert metrics.timings(with_drills)["overall"].incidents == 1


def test_drill_pages_nobody_unless_configured(team, service, ladder, probe, committed, manager):
    drill = services.schedule_drill(
        service=service, name="quiet", scenario=Scenario.PROBE_DOWN, probe=probe,
        starts_at=timezone.now(), actor=Actor.of_user(manager),
    )  # fmt: skip
    services.start_drill(drill=drill, actor=Actor.of_user(manager))
    committed(run, probe)
    committed(run, probe)
    incident = Incident.objects.get()
    assert incident.is_drill
    assert not Notification.objects.filter(incident=incident, recipient__isnull=False).exists()
    assert mail.outbox == []
    escalation = incident.timeline.filter(kind__startswith="escalat").values_list(
        "message", flat=True
    )
    assert any("not paged" in message for message in escalation)


def test_latency_drill_makes_the_probe_slow(service, probe, manager, committed):
    drill = services.schedule_drill(
        service=service, name="slow model", scenario=Scenario.PROBE_LATENCY, probe=probe,
        latency_ms=probe.latency_threshold_ms + 500, starts_at=timezone.now(),
        actor=Actor.of_user(manager),
    )  # fmt: skip
    services.start_drill(drill=drill, actor=Actor.of_user(manager))
    result = committed(run, probe)
    assert result.ok and result.error == "slow" and result.latency_ms > probe.latency_threshold_ms
    committed(run, probe)
    assert probe.state == ProbeState.DEGRADED
    incident = Incident.objects.get()
    assert incident.is_drill and incident.title == "sales-avatar is slow"


def test_second_running_drill_on_the_same_probe_is_409(client, service, probe, manager):
    client.force_login(manager)
    assert _schedule(client, service, probe).status_code == 201
    response = _schedule(client, service, probe)
    assert response.status_code == 409
    assert "already has a running drill" in response.json()["error"]["message"]
    assert Drill.objects.count() == 1  # the refused one was not left behind, scheduled


def test_drill_on_another_teams_service_or_probe_is_404(client, service, probe, manager):
    other = ServiceFactory()
    other_probe = ProbeFactory(service=other)
    client.force_login(manager)
    response = _schedule(client, other, other_probe)
    assert response.status_code in (400, 404)  # unknown slug for this caller
    assert not Drill.objects.exists()
    response = _schedule(client, service, other_probe)
    assert response.status_code == 404
    outsider_drill = services.schedule_drill(
        service=other, name="theirs", scenario="probe_down", probe=other_probe,
        starts_at=timezone.now(), actor=Actor.system(),
    )  # fmt: skip
    assert client.get(f"/api/v1/drills/{outsider_drill.pk}/").status_code == 404
    assert client.post(f"/api/v1/drills/{outsider_drill.pk}/abort/").status_code == 404
    assert client.get(reverse("drills:detail", args=[outsider_drill.pk])).status_code == 404


def test_viewer_may_not_schedule_or_abort(client, team, service, probe, viewer, manager):
    client.force_login(viewer)
    assert _schedule(client, service, probe).status_code == 403
    drill = services.schedule_drill(
        service=service, name="d", scenario="probe_down", probe=probe,
        starts_at=timezone.now(), actor=Actor.of_user(manager),
    )  # fmt: skip
    assert client.post(f"/api/v1/drills/{drill.pk}/abort/").status_code == 403
    assert client.post(reverse("drills:abort", args=[drill.pk])).status_code == 403
    assert client.get(reverse("drills:abort", args=[drill.pk])).status_code == 405


def test_scheduled_drills_start_and_finish_on_their_clock(service, probe, manager):
    now = timezone.now()
    drill = services.schedule_drill(
        service=service, name="later", scenario="probe_down", probe=probe,
        starts_at=now + timedelta(minutes=5), duration_minutes=10, actor=Actor.of_user(manager),
    )  # fmt: skip
    assert services.run_due_drills(now=now) == {"started": 0, "finished": 0}
    assert services.run_due_drills(now=now + timedelta(minutes=5)) == {"started": 1, "finished": 0}
    assert services.run_due_drills(now=now + timedelta(minutes=16)) == {"started": 0, "finished": 1}
    drill.refresh_from_db()
    assert drill.status == DrillStatus.FINISHED
    assert run(probe).ok  # no injection after the end


def test_heartbeat_silent_drill_is_detected_by_the_real_sweep(service, manager, committed):
    from monitoring import services as monitoring_services

    heartbeat = HeartbeatFactory(service=service, state=ProbeState.UP,
                                 alert_after=timezone.now() + timedelta(hours=1))  # fmt: skip
    drill = services.schedule_drill(
        service=service, name="silent backup", scenario="heartbeat_silent", heartbeat=heartbeat,
        starts_at=timezone.now(), actor=Actor.of_user(manager),
    )  # fmt: skip
    services.start_drill(drill=drill, actor=Actor.of_user(manager))
    committed(monitoring_services.sweep_overdue_heartbeats,
              now=timezone.now() + timedelta(seconds=1))  # fmt: skip
    incident = Incident.objects.get()
    assert incident.is_drill
    drill.refresh_from_db()
    assert drill.incident_id == incident.pk
    # A real ping during the drill does not end the silence.
    assert monitoring_services.heartbeat_recovered(heartbeat_id=heartbeat.pk) is None
    services.abort_drill(drill=drill, actor=Actor.of_user(manager))
    assert monitoring_services.heartbeat_recovered(heartbeat_id=heartbeat.pk) is not None


def test_replayed_alert_opens_a_drill_incident_and_ends_with_the_drill(service, manager, committed):
    from incidents.models import Alert, Integration

    real = committed(incident_services.open_incident, service=service, title="real", severity=4,
                     actor=Actor.system())[0]  # fmt: skip
    integration = Integration.objects.create(service=service, kind="alertmanager", name="am",
                                             token_prefix="x", token_hash="y" * 64)  # fmt: skip
    now = timezone.now()
    recorded = Alert.objects.create(integration=integration, incident=real, fingerprint="abc",
                                    status="resolved", severity=4, summary="LLM latency high",
                                    starts_at=now, first_seen_at=now, last_seen_at=now)  # fmt: skip
    drill = services.schedule_drill(service=service, name="replay", scenario="alert_replay",
                                    alert=recorded, starts_at=now, actor=Actor.of_user(manager))  # fmt: skip
    committed(services.start_drill, drill=drill, actor=Actor.of_user(manager))
    incident = Incident.objects.get(is_drill=True)
    assert incident.title == "DRILL: LLM latency high" and incident.alerts.count() == 1
    drill.refresh_from_db()
    assert drill.incident_id == incident.pk
    committed(services.abort_drill, drill=drill, actor=Actor.of_user(manager))
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_findings_become_action_items_once(client, service, probe, manager, committed):
    drill = services.schedule_drill(service=service, name="d", scenario="probe_down",
                                    probe=probe, starts_at=timezone.now(),
                                    actor=Actor.of_user(manager))  # fmt: skip
    services.start_drill(drill=drill, actor=Actor.of_user(manager))
    committed(run, probe)
    committed(run, probe)
    client.force_login(manager)
    url = reverse("drills:findings", args=[drill.pk])
    assert (
        client.post(
            url, {"findings": "Runbook link was dead\nNobody knew the L3 number"}
        ).status_code
        == 303
    )
    response = client.post(reverse("drills:action-items", args=[drill.pk]))
    assert response.status_code == 303
    from postmortems.models import ActionItem

    titles = set(ActionItem.objects.values_list("title", flat=True))
    assert {"Runbook link was dead", "Nobody knew the L3 number"} <= titles
    client.post(reverse("drills:action-items", args=[drill.pk]))
    assert ActionItem.objects.count() == len(titles)


def test_pages_render_for_members(client, team, service, probe, manager):
    drill = services.schedule_drill(service=service, name="<b>bold</b>", scenario="probe_down",
                                    probe=probe, starts_at=timezone.now(),
                                    actor=Actor.of_user(manager))  # fmt: skip
    client.force_login(manager)
    listing = client.get(reverse("drills:list")).content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;" in listing and "<b>bold</b>" not in listing
    assert "no game day this quarter" not in listing  # one is planned
    detail = client.get(reverse("drills:detail", args=[drill.pk]))
    assert detail.status_code == 200 and "Abort" in detail.content.decode()
    form = client.get(reverse("drills:new"))
    assert form.status_code == 200
    response = client.post(reverse("drills:new"), {
        "name": "via form", "service": service.pk, "scenario": "probe_down", "probe": probe.pk,
        "duration_minutes": 15, "start_now": "on"})  # fmt: skip
    assert response.status_code == 303
    assert Drill.objects.get(name="via form").status == DrillStatus.RUNNING


def test_quarterly_reminder_when_no_drill_this_quarter(client, team, manager):
    client.force_login(manager)
    assert "no game day this quarter" in client.get(reverse("drills:list")).content.decode()


def test_engine_asks_the_database_about_drills_only_on_a_cold_cache(
    service, probe, django_assert_num_queries
):
    from monitoring.checks import Outcome

    outcome = Outcome(probe_id=probe.pk, at=timezone.now(), ok=True, latency_ms=5)
    services.inject_probe_outcomes([outcome])  # warms the cache
    with django_assert_num_queries(0):
        assert services.inject_probe_outcomes([outcome]) == [outcome]
