"""Maintenance windows: shown ahead, silence automatic incidents while in progress (recorded,
counted on /metrics), and open what still fails when they end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from monitoring import services as monitoring_services
from monitoring.checks import Outcome
from monitoring.models import ProbeState
from statuspage.models import ComponentStatus, MaintenanceStatus, SuppressedOpening
from statuspage.services import maintenance
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory
from tests.statuspage.alerts import alertmanager_document, alertmanager_integration, deliver

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


@pytest.fixture
def window(page, component, committed):
    now = timezone.now()
    return committed(
        maintenance.schedule_window,
        page=page, title="Model upgrade", body="We upgrade the model.", components=[component],
        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1), actor=SYSTEM,
    )  # fmt: skip


def test_scheduled_window_is_shown_ahead_of_time(page, component, committed, client):
    now = timezone.now()
    committed(
        maintenance.schedule_window,
        page=page, title="Database upgrade", body="", components=[component],
        starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=2), actor=SYSTEM,
    )  # fmt: skip
    assert "Scheduled maintenance" in client.get("/status/acme/").content.decode()
    (entry,) = client.get("/status/acme/summary.json").json()["scheduled_maintenances"]
    assert (entry["name"], entry["status"]) == ("Database upgrade", "scheduled")
    assert entry["scheduled_for"] and entry["scheduled_until"]


def test_window_in_progress_shows_components_under_maintenance(window, client):
    assert window.status == MaintenanceStatus.IN_PROGRESS
    data = client.get("/status/acme/summary.json").json()
    assert data["components"][0]["status"] == ComponentStatus.UNDER_MAINTENANCE
    assert data["scheduled_maintenances"][0]["status"] == "in_progress"


def test_alerts_during_maintenance_open_nothing_and_are_recorded(
    window, service, committed, client
):
    integration = alertmanager_integration(service)
    assert committed(deliver, integration, alertmanager_document()) is None
    assert committed(deliver, integration, alertmanager_document()) is None
    assert not Incident.objects.exists()
    (row,) = SuppressedOpening.objects.all()
    assert (row.window, row.service, row.count, row.source) == (window, service, 2, "integration")
    metrics = client.get("/metrics").content.decode()
    assert 'vigil_maintenance_suppressed_openings_total{source="integration"} 2.0' in metrics


def test_what_still_fails_when_the_window_ends_opens_normally(window, service, committed):
    integration = alertmanager_integration(service)
    committed(deliver, integration, alertmanager_document())
    committed(maintenance.complete_window, window=window, actor=SYSTEM)
    incident = Incident.objects.get()
    assert incident.is_open and incident.alerts.count() == 2
    row = SuppressedOpening.objects.get()
    assert row.released_incident == incident
    assert committed(maintenance.release_suppressed, window=window) == []  # idempotent
    assert Incident.objects.count() == 1


def test_what_recovered_during_the_window_stays_closed(window, service, committed):
    integration = alertmanager_integration(service)
    committed(deliver, integration, alertmanager_document())
    committed(deliver, integration, alertmanager_document(status="resolved"))
    committed(maintenance.complete_window, window=window, actor=SYSTEM)
    assert not Incident.objects.exists()
    assert SuppressedOpening.objects.get().cleared_at is not None


def test_window_ending_on_time_through_the_sweep(window, service, committed):
    from freezegun import freeze_time

    integration = alertmanager_integration(service)
    committed(deliver, integration, alertmanager_document())
    with freeze_time(window.ends_at + timedelta(seconds=1)):
        result = committed(maintenance.advance_windows)
    assert result["completed"] == [window.pk]
    assert Incident.objects.count() == 1
    # after the window, alerts open incidents again at once
    committed(incident_services.resolve, incident=Incident.objects.get(), actor=SYSTEM)
    assert committed(deliver, integration, alertmanager_document()) is not None


def _probe_down(probe):
    probe.state = ProbeState.DOWN
    probe.consecutive_failures = 3
    probe.save()
    outcome = Outcome(probe_id=probe.pk, at=timezone.now(), ok=False, latency_ms=None,
                      error="refused", message="port 9")  # fmt: skip
    return monitoring_services.apply_probe_transition(
        probe=probe, old_state=ProbeState.UP, outcome=outcome
    )


def test_probe_failure_during_maintenance_opens_after_it_if_still_down(window, service, committed):
    probe = ProbeFactory(service=service, name="chat-health")
    assert committed(_probe_down, probe) is None
    assert not Incident.objects.exists()
    committed(maintenance.complete_window, window=window, actor=SYSTEM)
    incident = Incident.objects.get()
    assert (incident.dedup_key, incident.title, incident.source) == (
        probe.dedup_key, "chat-health is down", "probe",
    )  # fmt: skip


def test_probe_recovered_during_maintenance_opens_nothing(window, service, committed):
    probe = ProbeFactory(service=service, name="chat-health")
    committed(_probe_down, probe)
    probe.state = ProbeState.UP
    probe.save()
    outcome = Outcome(probe_id=probe.pk, at=timezone.now(), ok=True, latency_ms=12, status_code=200)
    committed(monitoring_services.apply_probe_transition, probe=probe, old_state=ProbeState.DOWN,
              outcome=outcome)  # fmt: skip
    committed(maintenance.complete_window, window=window, actor=SYSTEM)
    assert not Incident.objects.exists()


def test_heartbeat_silence_during_maintenance_is_suppressed(window, service, committed):
    heartbeat = HeartbeatFactory(service=service)
    assert committed(monitoring_services.heartbeat_went_down, heartbeat_id=heartbeat.pk,
                     reason="no ping") is None  # fmt: skip
    assert SuppressedOpening.objects.get().source == "probe"
    assert not Incident.objects.exists()


def test_incident_open_before_the_window_carries_on(
    page, component, service, committed, open_incident
):
    probe = ProbeFactory(service=service, name="chat-health")
    committed(_probe_down, probe)
    now = timezone.now()
    committed(maintenance.schedule_window, page=page, title="Upgrade", body="",
              components=[component], starts_at=now - timedelta(minutes=1),
              ends_at=now + timedelta(hours=1), actor=SYSTEM)  # fmt: skip
    assert committed(_probe_down, probe) is not None
    assert not SuppressedOpening.objects.exists()


def test_other_services_are_not_silenced(window, team, committed):
    from tests.factories import ServiceFactory

    other = ServiceFactory(team=team)
    integration = alertmanager_integration(other)
    assert committed(deliver, integration, alertmanager_document()) is not None


def test_bad_windows_are_refused(page, component, responder, client):
    client.force_login(responder)
    now = timezone.now()
    response = client.post(
        "/api/v1/status-maintenances/",
        {"page": page.pk, "title": "x", "components": [component.pk],
         "starts_at": now.isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat()},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400 and "end after it starts" in response.content.decode()
