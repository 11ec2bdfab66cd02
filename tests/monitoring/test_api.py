from __future__ import annotations

import pytest

from monitoring.models import Heartbeat, Probe, ProbeState
from tests.factories import ServiceFactory
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db


def probe_payload(service, **overrides):
    return {
        "service": service.pk,
        "name": "chat",
        "url": "https://avatar.example.com/health",
        **overrides,
    }


def test_manager_creates_a_probe_that_is_due_at_once(client, manager, service):
    client.force_login(manager)
    response = client.post(
        "/api/v1/probes/", probe_payload(service), content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    probe = Probe.objects.get()
    assert (
        probe.state == ProbeState.NEW
        and probe.interval_seconds == 60
        and probe.timeout_seconds == 10
    )
    assert response.json()["next_due_at"] is not None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"interval_seconds": 5}, "interval_seconds"),
        ({"expected_status": "2xx"}, "expected_status"),
        ({"timeout_seconds": 30, "interval_seconds": 20}, "timeout_seconds"),
        ({"url": "ftp://example.com/"}, "url"),
        ({"headers": {"X": 1}}, "headers"),
        ({"expected_json_value": "ok"}, "expected_json_path"),
    ],
)
def test_bad_probe_input_is_a_400_naming_the_field(client, manager, service, overrides, field):
    client.force_login(manager)
    response = client.post(
        "/api/v1/probes/", probe_payload(service, **overrides), content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_viewer_reads_but_cannot_configure(client, viewer, service):
    probe = ProbeFactory(service=service)
    client.force_login(viewer)
    assert client.get("/api/v1/probes/").json()["results"][0]["id"] == probe.pk
    assert client.get(f"/api/v1/probes/{probe.pk}/stats/").json()["1h"]["runs"] == 0
    assert (
        client.post(
            "/api/v1/probes/", probe_payload(service), content_type="application/json"
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/").status_code == 403
    assert (
        client.patch(
            f"/api/v1/probes/{probe.pk}/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/probes/{probe.pk}/").status_code == 403


def test_other_teams_probes_and_heartbeats_are_404_and_unlisted(client, outsider, service):
    probe = ProbeFactory(service=service)
    heartbeat = HeartbeatFactory(service=service)
    client.force_login(outsider)
    assert client.get("/api/v1/probes/").json()["results"] == []
    assert client.get(f"/api/v1/probes/{probe.pk}/").status_code == 404
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/").status_code == 404
    assert client.get(f"/api/v1/heartbeats/{heartbeat.pk}/").status_code == 404
    # Nor may a probe be attached to another team's service.
    response = client.post(
        "/api/v1/probes/", probe_payload(service), content_type="application/json"
    )
    assert response.status_code == 400 and "service" in response.json()["error"]["fields"]


def test_anonymous_is_refused_with_401_and_the_challenge(client, service):
    response = client.get("/api/v1/probes/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_pause_and_resume(client, manager, service):
    probe = ProbeFactory(service=service, state=ProbeState.DOWN)
    client.force_login(manager)
    assert client.get(f"/api/v1/probes/{probe.pk}/pause/").status_code == 405
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/").json()["state"] == "paused"
    assert client.post(f"/api/v1/probes/{probe.pk}/resume/").json()["state"] == "new"


def test_heartbeat_create_shows_its_ping_url(client, manager, service, settings):
    client.force_login(manager)
    response = client.post(
        "/api/v1/heartbeats/",
        {"service": service.pk, "name": "nightly", "period_seconds": 86400, "grace_seconds": 3600},
        content_type="application/json",
    )
    assert response.status_code == 201
    heartbeat = Heartbeat.objects.get()
    assert response.json()["ping_url"] == f"{settings.BASE_URL}/ping/{heartbeat.uuid}"
    assert client.post(f"/api/v1/heartbeats/{heartbeat.pk}/pause/").json()["state"] == "paused"


def test_probe_list_query_count_is_constant(
    client, manager, service, django_assert_max_num_queries
):
    for _ in range(3):
        ProbeFactory(service=ServiceFactory(team=service.team))
    client.force_login(manager)
    client.get("/api/v1/probes/")
    for _ in range(20):
        ProbeFactory(service=service)
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/probes/").json()["results"]) == 23


def test_monitor_page_lists_probes_and_heartbeats(client, viewer, service, outsider):
    ProbeFactory(service=service, name="chat-api", state=ProbeState.DOWN)
    HeartbeatFactory(service=service, name="nightly-export")
    client.force_login(viewer)
    response = client.get("/monitors/")
    assert response.status_code == 200
    assert b"chat-api" in response.content and b"nightly-export" in response.content
    fragment = client.get("/monitors/", HTTP_HX_REQUEST="true")
    assert b"chat-api" in fragment.content and b"<html" not in fragment.content
    client.force_login(outsider)
    assert b"chat-api" not in client.get("/monitors/").content
    client.logout()
    assert client.get("/monitors/").status_code == 302


def test_bearer_token_reads_and_a_read_only_one_cannot_write(client, manager, service):
    from accounts.tokens import create_token
    from incidents.actors import Actor

    probe = ProbeFactory(service=service)
    writable = create_token(
        user=manager, actor=Actor.of_user(manager), name="ci", read_only=False, expires_in_days=30
    )
    read_only = create_token(
        user=manager, actor=Actor.of_user(manager), name="ro", read_only=True, expires_in_days=30
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {read_only.plaintext}"}
    assert client.get(f"/api/v1/probes/{probe.pk}/", **auth).status_code == 200
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/", **auth).status_code == 403
    auth = {"HTTP_AUTHORIZATION": f"Bearer {writable.plaintext}"}
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/", **auth).status_code == 200
