import pytest

from accounts.models import AuditLog
from incidents.ingest.services import integration_for_token
from incidents.models import Alert, Integration
from tests.ingest.factories import am_alert, am_group, make_integration

pytestmark = pytest.mark.django_db


def test_create_returns_the_token_once_and_it_works(
    make_client, manager, service, client, settings
):
    settings.INGEST_APPLY_INLINE = True
    api = make_client(manager)
    response = api.post(
        "/api/v1/integrations/",
        {
            "service": service.pk,
            "kind": "alertmanager",
            "name": "prod AM",
            "rate_limit_per_minute": 100,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert len(token) == 32 and body["url"].endswith(f"/hooks/alertmanager/{token}")
    integration = Integration.objects.get(pk=body["id"])
    assert integration.rate_limit_per_minute == 100
    assert integration_for_token(token) == integration
    assert token not in str(Integration.objects.filter(pk=integration.pk).values().get())
    assert AuditLog.objects.filter(action="integration.created", actor=manager).exists()

    shown = api.get(f"/api/v1/integrations/{integration.pk}/").json()
    assert "token" not in shown and shown["token_prefix"] == token[:8]

    delivery = client.post(
        f"/hooks/alertmanager/{token}",
        data=am_group(am_alert("fp1")),
        content_type="application/json",
    )
    assert delivery.status_code == 202
    assert Alert.objects.filter(integration=integration, fingerprint="fp1").count() == 1


def test_create_validates_kind_and_service(make_client, manager, outsider):
    api = make_client(manager)
    response = api.post(
        "/api/v1/integrations/", {"service": 999999, "kind": "nagios", "name": "x"}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) >= {"service", "kind"}


def test_responder_and_read_only_token_cannot_create(make_client, responder, manager, service):
    payload = {"service": service.pk, "kind": "generic", "name": "g"}
    assert (
        make_client(responder).post("/api/v1/integrations/", payload, format="json").status_code
        == 403
    )
    read_only = make_client(manager, read_only=True)
    assert read_only.post("/api/v1/integrations/", payload, format="json").status_code == 403
    assert not Integration.objects.exists()


def test_other_teams_integration_is_404_and_never_listed(make_client, outsider, service):
    integration, _ = make_integration(service, "generic")
    api = make_client(outsider)
    assert api.get(f"/api/v1/integrations/{integration.pk}/").status_code == 404
    assert (
        api.patch(
            f"/api/v1/integrations/{integration.pk}/", {"is_active": False}, format="json"
        ).status_code
        == 404
    )
    assert api.get("/api/v1/integrations/").json()["results"] == []


def test_deactivate_stops_deliveries(make_client, manager, service, client):
    integration, token = make_integration(service, "generic")
    response = make_client(manager).patch(
        f"/api/v1/integrations/{integration.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200 and response.json()["is_active"] is False
    delivery = client.post(
        f"/hooks/generic/{token}",
        data={"title": "x", "dedup_key": "k"},
        content_type="application/json",
    )
    assert delivery.status_code == 404


def test_kind_cannot_change(make_client, manager, service):
    integration, _ = make_integration(service, "generic")
    response = make_client(manager).patch(
        f"/api/v1/integrations/{integration.pk}/", {"kind": "grafana"}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["error"]["fields"]


def test_anonymous_gets_401(anon):
    assert anon.get("/api/v1/integrations/").status_code == 401
    assert anon.get("/api/v1/alerts/").status_code == 401


def test_alerts_are_listed_per_incident_and_isolated(
    make_client, viewer, outsider, service, client, settings
):
    settings.INGEST_APPLY_INLINE = True
    integration, token = make_integration(service, "alertmanager")
    client.post(
        f"/hooks/alertmanager/{token}",
        data=am_group(am_alert("fp1"), am_alert("fp2")),
        content_type="application/json",
    )
    alert = Alert.objects.get(fingerprint="fp1")
    listed = (
        make_client(viewer).get(f"/api/v1/alerts/?incident={alert.incident_id}").json()["results"]
    )
    assert {a["fingerprint"] for a in listed} == {"fp1", "fp2"}
    assert listed[0]["labels"]["alertname"]
    assert make_client(outsider).get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert make_client(outsider).get("/api/v1/alerts/").json()["results"] == []
    assert make_client(viewer).post("/api/v1/alerts/", {}, format="json").status_code == 405


def test_metrics_count_ingested_alerts_and_backlog(client, service, settings):
    settings.INGEST_APPLY_INLINE = False  # accepted, not yet applied: the backlog
    _, am_token = make_integration(service, "alertmanager")
    client.post(
        f"/hooks/alertmanager/{am_token}",
        data=am_group(am_alert("fp1")),
        content_type="application/json",
    )
    settings.INGEST_APPLY_INLINE = True
    _, generic_token = make_integration(service, "generic")
    for _ in range(3):
        client.post(
            f"/hooks/generic/{generic_token}",
            data={"title": "Avatar slow", "dedup_key": "slow"},
            content_type="application/json",
        )
    text = client.get("/metrics").content.decode()
    assert 'vigil_ingested_alerts_total{kind="generic"} 3.0' in text
    assert 'vigil_ingested_alerts_total{kind="alertmanager"} 0.0' in text
    assert "vigil_ingest_backlog 1.0" in text


def _deliver(client, token, key="rot"):
    return client.post(
        f"/hooks/generic/{token}",
        data={"title": "t", "dedup_key": key},
        content_type="application/json",
    )


def test_rotating_a_token_keeps_the_old_one_for_the_grace_period(
    make_client, manager, service, client
):
    from datetime import timedelta

    from django.utils import timezone
    from freezegun import freeze_time

    integration, old_token = make_integration(service, "generic")
    response = make_client(manager).post(
        f"/api/v1/integrations/{integration.pk}/rotate-token/", {"grace_hours": 2}, format="json"
    )
    assert response.status_code == 200, response.content
    new_token = response.json()["token"]
    assert new_token != old_token and response.json()["url"].endswith(new_token)
    assert AuditLog.objects.filter(action="integration.token_rotated", actor=manager).exists()
    assert old_token not in str(Integration.objects.filter(pk=integration.pk).values().get())
    assert _deliver(client, new_token).status_code == 202
    assert _deliver(client, old_token).status_code == 202  # still inside the grace period
    with freeze_time(timezone.now() + timedelta(hours=2, seconds=1)):
        from incidents.ingest.services import forget_cached_integrations

        forget_cached_integrations()
        assert _deliver(client, old_token).status_code == 404
        assert _deliver(client, new_token).status_code == 202


def test_rotation_without_grace_retires_the_old_token_at_once(
    make_client, manager, service, client
):
    integration, old_token = make_integration(service, "generic")
    response = make_client(manager).post(
        f"/api/v1/integrations/{integration.pk}/rotate-token/", {"grace_hours": 0}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["previous_token_expires_at"] is None
    assert _deliver(client, old_token).status_code == 404
    assert _deliver(client, response.json()["token"]).status_code == 202


def test_rotation_needs_a_manager_and_a_sane_grace(
    make_client, responder, manager, outsider, service
):
    integration, _ = make_integration(service, "generic")
    url = f"/api/v1/integrations/{integration.pk}/rotate-token/"
    assert make_client(responder).post(url, {}, format="json").status_code == 403
    assert make_client(outsider).post(url, {}, format="json").status_code == 404
    too_long = make_client(manager).post(url, {"grace_hours": 1000}, format="json")
    assert too_long.status_code == 400
    assert "grace_hours" in too_long.json()["error"]["fields"]
