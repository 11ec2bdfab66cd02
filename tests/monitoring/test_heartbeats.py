from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from incidents.actors import Actor
from incidents.models import Incident, Source, Status
from monitoring import services
from monitoring.models import HeartbeatPing, PingKind, ProbeState
from tests.monitoring.factories import HeartbeatFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heartbeat(service):
    return HeartbeatFactory(
        service=service, name="nightly-backup", period_seconds=3600, grace_seconds=600
    )


def kinds(incident):
    return list(incident.timeline.order_by("id").values_list("kind", flat=True))


def test_ping_answers_ok_and_keeps_heartbeat_up(client, heartbeat):
    with freeze_time("2026-01-01 00:00:00"):
        response = client.get(f"/ping/{heartbeat.uuid}")
    assert response.status_code == 200
    assert response.content == b"OK" and response["Content-Type"].startswith("text/plain")
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.UP
    assert heartbeat.ping_count == 1
    assert heartbeat.alert_after.isoformat() == "2026-01-01T01:10:00+00:00"

    with freeze_time("2026-01-01 01:00:00"):
        assert (
            client.post(
                f"/ping/{heartbeat.uuid}/", data=b"done", content_type="text/plain"
            ).status_code
            == 200
        )
    with freeze_time("2026-01-01 01:30:00"):
        assert services.sweep_overdue_heartbeats() == []
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.UP and heartbeat.ping_count == 2
    assert not Incident.objects.exists()
    assert HeartbeatPing.objects.filter(heartbeat=heartbeat).count() == 2
    assert HeartbeatPing.objects.latest("at").body == "done"


def test_silence_past_period_and_grace_opens_incident_and_next_ping_resolves(client, heartbeat):
    with freeze_time("2026-01-01 00:00:00"):
        client.get(f"/ping/{heartbeat.uuid}")
    with freeze_time("2026-01-01 01:09:59"):
        assert services.sweep_overdue_heartbeats() == []
    with freeze_time("2026-01-01 01:10:01"):
        assert services.sweep_overdue_heartbeats() == [heartbeat.pk]
        assert services.sweep_overdue_heartbeats() == []  # a second sweep changes nothing
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.DOWN
    incident = Incident.objects.get()
    assert incident.dedup_key == f"heartbeat:{heartbeat.pk}"
    assert incident.source == Source.PROBE and incident.severity == 4
    assert incident.title == "nightly-backup is silent"
    assert "No ping since 2026-01-01 00:00:00" in incident.summary

    with freeze_time("2026-01-01 02:00:00"):
        assert client.get(f"/ping/{heartbeat.uuid}").status_code == 200
    heartbeat.refresh_from_db()
    incident.refresh_from_db()
    assert heartbeat.state == ProbeState.UP
    assert incident.status == Status.RESOLVED
    assert kinds(incident) == ["opened", "resolved"]
    assert "success ping" in incident.timeline.get(kind="resolved").message


@pytest.mark.parametrize("suffix", ["fail", "3"])
def test_failure_ping_opens_at_once(client, heartbeat, suffix):
    client.get(f"/ping/{heartbeat.uuid}")
    response = client.post(
        f"/ping/{heartbeat.uuid}/{suffix}", data=b"disk full", content_type="text/plain"
    )
    assert response.status_code == 200
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.DOWN
    incident = Incident.objects.get()
    assert incident.title == "nightly-backup failed"
    assert "disk full" in incident.summary
    if suffix == "3":
        assert "exit status 3" in incident.summary
        assert heartbeat.last_exit_status == 3
    # Another failure while down: same incident, nothing new.
    client.get(f"/ping/{heartbeat.uuid}/fail")
    assert Incident.objects.count() == 1 and kinds(incident) == ["opened"]
    # Exit status 0 is a success: resolves.
    client.get(f"/ping/{heartbeat.uuid}/0")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


def test_start_ping_records_start_without_changing_state(client, heartbeat):
    response = client.head(f"/ping/{heartbeat.uuid}/start")
    assert response.status_code == 200
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.NEW and heartbeat.last_start_at is not None
    assert HeartbeatPing.objects.get().kind == PingKind.START
    assert HeartbeatPing.objects.get().method == "HEAD"


def test_unknown_uuid_is_404_and_bad_requests_are_4xx(client, heartbeat):
    assert client.get(f"/ping/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/ping/{uuid.uuid4()}/fail").status_code == 404
    assert client.get("/ping/not-a-uuid").status_code == 404
    response = client.get(f"/ping/{heartbeat.uuid}/256")
    assert response.status_code == 400 and b"0-255" in response.content
    assert client.put(f"/ping/{heartbeat.uuid}").status_code == 405
    assert not HeartbeatPing.objects.exists()


def test_ping_body_is_kept_up_to_10kb(client, heartbeat):
    client.post(f"/ping/{heartbeat.uuid}", data=b"x" * 50_000, content_type="text/plain")
    assert len(HeartbeatPing.objects.get().body) == 10_000


def test_ping_needs_no_csrf_token(heartbeat):
    from django.test import Client

    assert Client(enforce_csrf_checks=True).post(f"/ping/{heartbeat.uuid}").status_code == 200


def test_paused_heartbeat_is_not_swept_and_next_ping_resumes_it(client, heartbeat):
    client.get(f"/ping/{heartbeat.uuid}")
    services.pause_heartbeat(heartbeat=heartbeat, actor=Actor.system("tests"))
    with freeze_time(timezone.now() + timedelta(days=3)):
        assert services.sweep_overdue_heartbeats() == []
        client.get(f"/ping/{heartbeat.uuid}")
    heartbeat.refresh_from_db()
    assert heartbeat.state == ProbeState.UP and not Incident.objects.exists()


def test_start_then_no_success_within_grace_goes_down(client, heartbeat):
    with freeze_time("2026-01-01 00:00:00"):
        client.get(f"/ping/{heartbeat.uuid}")
    with freeze_time("2026-01-01 00:30:00"):
        client.get(f"/ping/{heartbeat.uuid}/start")
    with freeze_time("2026-01-01 00:40:01"):  # start + 10 min grace, before period + grace
        assert services.sweep_overdue_heartbeats() == [heartbeat.pk]
