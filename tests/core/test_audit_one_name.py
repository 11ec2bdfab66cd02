"""One act, one audit row, one action name: whichever door it came through (board/room, REST
API, signed acknowledge link), the service writes the row in its own transaction."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.actors import Actor
from accounts.models import AuditLog
from accounts.tokens import create_token
from incidents import services
from incidents.models import Status
from monitoring import services as monitoring_services
from oncall.acklinks import create_ack_link
from tests.factories import open_incident
from tests.monitoring.factories import HeartbeatFactory, ProbeFactory

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"


def _by_room(incident, user, verb):
    client = Client()
    client.force_login(user)
    response = client.post(f"/incidents/{incident.pk}/{verb}/", REMOTE_ADDR=ADDRESS)
    assert response.status_code == 303


def _by_api(incident, user, verb):
    issued = create_token(user=user, name="ci", actor=Actor.of_user(user))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    response = client.post(f"/api/v1/incidents/{incident.pk}/{verb}/", REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200


def _by_link(incident, user, verb):
    assert verb == "acknowledge"
    url = create_ack_link(incident=incident, recipient=user)
    path = url[url.index("/oncall/") :]
    assert Client().post(path, REMOTE_ADDR=ADDRESS).status_code == 200


def _rows(action):
    return list(AuditLog.objects.filter(action=action))


@pytest.mark.parametrize("door", [_by_room, _by_api, _by_link], ids=["room", "api", "link"])
def test_acknowledge_writes_incident_acknowledged_once_from_every_door(door, service, responder):
    incident = open_incident(service)
    door(incident, responder, "acknowledge")
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED
    [row] = AuditLog.objects.filter(action__startswith="incident.")
    assert row.action == "incident.acknowledged"
    assert (row.actor, row.team_id, row.target) == (responder, service.team_id, incident.reference)
    assert row.ip_address == ADDRESS
    assert incident.timeline.filter(kind="acknowledged").count() == 1


@pytest.mark.parametrize("door", [_by_room, _by_api], ids=["room", "api"])
def test_resolve_and_reopen_are_audited_from_the_room_and_the_api(door, service, responder):
    incident = open_incident(service)
    door(incident, responder, "resolve")
    door(incident, responder, "reopen")
    actions = list(
        AuditLog.objects.filter(action__startswith="incident.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["incident.resolved", "incident.reopened"]


def test_api_audit_row_names_the_token_prefix_never_the_secret(service, responder):
    incident = open_incident(service)
    _by_api(incident, responder, "acknowledge")
    row = AuditLog.objects.get(action="incident.acknowledged")
    token = row.data["token"]
    assert token.startswith("vgl_") and len(token) < 30


def test_a_refused_act_writes_no_audit_row(service, responder):
    incident = open_incident(service)
    services.acknowledge(incident=incident, actor=Actor.of_user(responder))
    client = Client()
    client.force_login(responder)
    client.post(f"/incidents/{incident.pk}/acknowledge/")  # already acknowledged: 409
    assert AuditLog.objects.filter(action="incident.acknowledged").count() == 1


def test_an_integration_resolving_is_audited_under_the_same_name(service):
    incident = open_incident(service)
    services.resolve(incident=incident, actor=Actor.integration("alertmanager"))
    row = AuditLog.objects.get(action="incident.resolved")
    assert row.actor is None and row.actor_label == "alertmanager"


# --- monitors -----------------------------------------------------------------------------


def test_pausing_a_probe_is_audited_and_told_to_open_incidents_of_its_service(service, manager):
    probe = ProbeFactory(service=service, name="chat health")
    incident = open_incident(service)
    other_service_incident = open_incident(ProbeFactory().service)
    client = APIClient()
    client.force_authenticate(manager)
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/", REMOTE_ADDR=ADDRESS).status_code == 200
    assert client.post(f"/api/v1/probes/{probe.pk}/pause/").status_code == 200  # no-op
    assert client.post(f"/api/v1/probes/{probe.pk}/resume/").status_code == 200

    assert [r.action for r in AuditLog.objects.order_by("id")] == ["probe.paused", "probe.resumed"]
    paused = AuditLog.objects.get(action="probe.paused")
    assert paused.actor == manager and paused.ip_address == ADDRESS
    assert paused.team_id == service.team_id
    kinds = list(incident.timeline.order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["monitor_paused", "monitor_resumed"]
    assert "chat health" in incident.timeline.get(kind="monitor_paused").message
    assert not other_service_incident.timeline.filter(kind__startswith="monitor_").exists()


def test_pausing_a_heartbeat_is_audited(service, manager):
    heartbeat = HeartbeatFactory(service=service)
    monitoring_services.pause_heartbeat(heartbeat=heartbeat, actor=Actor.of_user(manager))
    monitoring_services.pause_heartbeat(heartbeat=heartbeat, actor=Actor.of_user(manager))
    assert AuditLog.objects.filter(action="heartbeat.paused").count() == 1
