import hashlib
import hmac
import json
import time

import pytest

from incidents.models import Incident, Status
from tests.ingest.factories import fixture, make_integration

pytestmark = pytest.mark.django_db

SECRET = "s3cret-shared-with-grafana"


def sign(body: bytes, stamp: str | None = None) -> str:
    signed = body if stamp is None else stamp.encode() + b":" + body
    return hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()


def test_documented_grafana_payload_opens_an_incident(grafana, post_json):
    _, token = grafana
    response = post_json(f"/hooks/grafana/{token}", fixture("grafana_alerting.json"))
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.severity == 4
    assert incident.dedup_key.startswith("gf:")
    alert = incident.alerts.get()
    assert alert.fingerprint == "c6eadffa33fcdf37"
    assert alert.details["values"] == {"B": 94.2, "C": 1}
    assert alert.details["silenceURL"].startswith("https://grafana.example.org/")


def test_grafana_resolution_resolves_the_incident(grafana, post_json):
    _, token = grafana
    document = fixture("grafana_alerting.json")
    post_json(f"/hooks/grafana/{token}", document)
    document["status"] = "resolved"
    document["state"] = "ok"
    document["alerts"][0]["status"] = "resolved"
    document["alerts"][0]["endsAt"] = "2026-11-25T10:21:03+02:00"
    post_json(f"/hooks/grafana/{token}", document)
    assert Incident.objects.get().status == Status.RESOLVED


@pytest.fixture
def signed_grafana(service, inline):
    return make_integration(service, "grafana", hmac_secret=SECRET)


def test_signed_delivery_with_fresh_timestamp_is_accepted(signed_grafana, client):
    _, token = signed_grafana
    body = json.dumps(fixture("grafana_alerting.json")).encode()
    stamp = str(int(time.time()))
    response = client.post(
        f"/hooks/grafana/{token}",
        data=body,
        content_type="application/json",
        headers={
            "X-Grafana-Alerting-Signature": sign(body, stamp),
            "X-Grafana-Alerting-Timestamp": stamp,
        },
    )
    assert response.status_code == 202
    assert Incident.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Grafana-Alerting-Signature": "00" * 32, "X-Grafana-Alerting-Timestamp": "NOW"},
        {"X-Grafana-Alerting-Signature": "BAD", "X-Grafana-Alerting-Timestamp": "NOW"},
        {"X-Grafana-Alerting-Signature": "GOOD", "X-Grafana-Alerting-Timestamp": "STALE"},
        {"X-Grafana-Alerting-Signature": "GOOD"},
    ],
    ids=["unsigned", "zeros", "wrong-secret", "stale", "no-timestamp"],
)
def test_bad_signature_or_stale_timestamp_is_401(signed_grafana, client, headers):
    _, token = signed_grafana
    body = json.dumps(fixture("grafana_alerting.json")).encode()
    now = int(time.time())
    stamp = {"NOW": str(now), "STALE": str(now - 301)}.get(
        headers.get("X-Grafana-Alerting-Timestamp", ""), ""
    )
    real = {}
    for name, value in headers.items():
        if name.endswith("Timestamp"):
            real[name] = stamp
        elif value == "GOOD":
            real[name] = sign(body, stamp)
        elif value == "BAD":
            real[name] = hmac.new(b"other", stamp.encode() + b":" + body, "sha256").hexdigest()
        else:
            real[name] = value
    response = client.post(
        f"/hooks/grafana/{token}", data=body, content_type="application/json", headers=real
    )
    assert response.status_code == 401
    assert response.json()["field"] == "signature"
    assert Incident.objects.count() == 0


def test_signature_over_body_alone_when_no_timestamp_header_is_configured(service, inline, client):
    _, token = make_integration(service, "grafana", hmac_secret=SECRET, timestamp_header="")
    body = json.dumps(fixture("grafana_alerting.json")).encode()
    response = client.post(
        f"/hooks/grafana/{token}",
        data=body,
        content_type="application/json",
        headers={"X-Grafana-Alerting-Signature": sign(body)},
    )
    assert response.status_code == 202


def test_token_in_authorization_header_keeps_it_out_of_the_url(grafana, client):
    _, token = grafana
    response = client.post(
        f"/hooks/grafana/{token[:8]}",
        data=json.dumps(fixture("grafana_alerting.json")),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202


def test_documented_generic_payload_opens_an_incident(generic, post_json):
    _, token = generic
    response = post_json(f"/hooks/generic/{token}", fixture("generic_webhook.json"))
    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.title == "Checkout bot answers with fallback only"
    assert incident.severity == 3  # major
    assert incident.dedup_key == "gen:checkout-bot-fallback"
    alert = incident.alerts.get()
    assert alert.details["model"]["active"] == "none"
    assert alert.source_url == "https://dashboards.example.org/checkout-bot"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [(5, 5), ("1", 1), ("critical", 4), ("warning", 2), ("info", 1), ("whatever", 3), (None, 3)],
)
def test_generic_severity_numbers_and_words(generic, post_json, severity, expected):
    _, token = generic
    document = {"title": "Voice bot silent", "severity": severity}
    assert post_json(f"/hooks/generic/{token}", document).status_code == 202
    assert Incident.objects.get().severity == expected


def test_generic_repeat_and_resolve(generic, post_json):
    _, token = generic
    url = f"/hooks/generic/{token}"
    post_json(url, {"title": "Voice bot silent", "dedup_key": "voice"})
    post_json(url, {"title": "Voice bot silent", "dedup_key": "voice", "severity": 5})
    incident = Incident.objects.get()
    assert incident.severity == 5
    post_json(url, {"title": "Voice bot silent", "dedup_key": "voice", "status": "resolved"})
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": 5}, "title"),
        ({"title": "x", "severity": 9}, "severity"),
        ({"title": "x", "severity": True}, "severity"),
        ({"title": "x", "status": "exploded"}, "status"),
        ({"title": "x", "details": "not nested"}, None),
    ],
)
def test_generic_bad_fields_are_named(generic, post_json, document, field):
    _, token = generic
    response = post_json(f"/hooks/generic/{token}", document)
    if field is None:
        assert response.status_code == 202
        return
    assert response.status_code == 400
    assert response.json()["field"] == field
