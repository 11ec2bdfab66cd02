"""/api/v1/llm/endpoints/: the issue's field names, write-only credential, SSRF guard, roles."""

from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditLog
from accounts.tokens import create_token
from incidents.actors import Actor
from llm.models import ModelEndpoint, RouteState
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/llm/endpoints/"
SECRET = "sk-live-0123456789abcdef-never-show"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.API_THROTTLE_RATE = ""


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(user=user, name='t', actor=Actor.of_user(user)).plaintext}"
    )
    return client


def body(service, **extra):
    return {
        "service": service.slug, "name": "primary", "provider": "openai",
        "base_url": "https://api.openai.example/v1", "model": "gpt-5-mini", "tier": 1,
        "credential": SECRET, "price_in_per_1k": "0.000250", "price_out_per_1k": "0.002",
        "slow_call_ms": 3000, **extra,
    }  # fmt: skip


def test_create_stores_the_credential_encrypted_and_never_answers_it(manager, service, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(manager)
    response = client.post(URL, body(service), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert "credential" not in data and data["has_credential"] is True
    assert data["service"] == service.slug and data["breaker_state"] == "closed"
    endpoint = ModelEndpoint.objects.get(pk=data["id"])
    assert SECRET not in endpoint.credential_encrypted
    assert endpoint.credential() == SECRET
    assert SECRET not in repr(endpoint.credential())
    listed = client.get(URL).content.decode() + client.get(f"{URL}{endpoint.pk}/").content.decode()
    assert SECRET not in listed
    audit = AuditLog.objects.get(action="llm.endpoint_created")
    assert SECRET not in json.dumps(audit.data) and audit.data["credential"] == "set"
    assert SECRET not in caplog.text
    assert RouteState.objects.get(service=service).tier == 1


def test_credential_env_reference_and_update_keeps_secret_hidden(manager, service, monkeypatch):
    monkeypatch.setenv("OPENAI_KEY_FOR_TEST", "from-env")
    client = client_for(manager)
    created = client.post(
        URL, body(service, credential="", credential_env="OPENAI_KEY_FOR_TEST"), format="json"
    ).json()
    endpoint = ModelEndpoint.objects.get(pk=created["id"])
    assert endpoint.credential() == "from-env"
    response = client.patch(f"{URL}{endpoint.pk}/", {"credential": "rotated-key"}, format="json")
    assert response.status_code == 200 and "rotated-key" not in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.credential() == "rotated-key" and endpoint.credential_env == ""
    audit = AuditLog.objects.get(action="llm.endpoint_updated")
    assert audit.data == {"changed": ["credential"]}


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:11434/v1", "http://10.1.2.3/v1", "http://localhost:8000/v1"]
)
def test_private_base_url_needs_the_allow_list(manager, service, base_url, settings):
    client = client_for(manager)
    response = client.post(URL, body(service, base_url=base_url), format="json")
    assert response.status_code == 400
    assert "PROBE_ALLOWED_NETWORKS" in response.json()["error"]["message"]
    from ipaddress import ip_network

    settings.OUTBOUND_ALLOWED_NETWORKS = [ip_network("127.0.0.0/8"), ip_network("10.0.0.0/8")]
    assert client.post(URL, body(service, base_url=base_url), format="json").status_code == 201


def test_bad_values_are_400_and_duplicates_409(manager, service):
    client = client_for(manager)
    assert client.post(URL, body(service, tier=0), format="json").status_code == 400
    assert client.post(URL, body(service, provider="gemini"), format="json").status_code == 400
    assert client.post(URL, body(service, base_url="ftp://x/v1"), format="json").status_code == 400
    assert client.post(URL, body(service, price_in_per_1k="-1"), format="json").status_code == 400
    assert client.post(URL, {**body(service), "service": "nope"}, format="json").status_code == 400
    assert client.post(URL, body(service), format="json").status_code == 201
    assert client.post(URL, body(service), format="json").status_code == 409


def test_roles_viewer_403_outsider_404_anonymous_401(viewer, outsider, service):
    endpoint = ModelEndpointFactory(service=service)
    assert client_for(viewer).get(f"{URL}{endpoint.pk}/").status_code == 200
    assert client_for(viewer).post(URL, body(service), format="json").status_code == 403
    assert client_for(viewer).delete(f"{URL}{endpoint.pk}/").status_code == 403
    assert client_for(outsider).get(f"{URL}{endpoint.pk}/").status_code == 404
    assert client_for(outsider).delete(f"{URL}{endpoint.pk}/").status_code == 404
    assert client_for(outsider).get(URL).json()["results"] == []
    assert APIClient().get(URL).status_code == 401


def test_delete_reroutes(manager, service):
    client = client_for(manager)
    first = client.post(URL, body(service), format="json").json()
    client.post(URL, body(service, name="second", tier=2), format="json")
    assert client.delete(f"{URL}{first['id']}/").status_code == 204
    assert RouteState.objects.get(service=service).tier == 2


def test_non_finite_probe_timeout_is_400(manager, service):
    client = client_for(manager)
    response = client.post(URL, {**body(service), "probe_timeout_seconds": "NaN"}, format="json")
    assert response.status_code == 400
