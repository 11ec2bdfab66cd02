import json

import pytest

from incidents.models import Incident, Status
from tests.ingest.factories import fixture

pytestmark = pytest.mark.django_db


def event(token, action="trigger", dedup_key=None, severity="error", summary="Bot down"):
    body = {"routing_key": token, "event_action": action}
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    if action == "trigger":
        body["payload"] = {"summary": summary, "source": "probe-eu", "severity": severity}
    return body


def test_documented_trigger_is_accepted_with_pagerdutys_exact_answer(pagerduty, post_json):
    _, token = pagerduty
    document = fixture("pagerduty_trigger.json")
    document["routing_key"] = token
    response = post_json("/v2/enqueue", document)
    assert response.status_code == 202
    assert response.content == (
        b'{"status": "success", "message": "Event processed", "dedup_key": '
        b'"srv01/mysql-replication"}'
    )
    incident = Incident.objects.get()
    assert incident.title == "Replication lag on srv01 above 60 s"
    assert incident.severity == 4
    alert = incident.alerts.get()
    assert alert.fingerprint == "srv01/mysql-replication"
    assert alert.details["custom_details"]["lag_seconds"] == 73
    assert alert.details["component"] == "mysql"
    assert alert.source_url == "https://monitoring.example.com"


def test_trigger_without_dedup_key_gets_one_generated_and_returned(pagerduty, post_json):
    _, token = pagerduty
    response = post_json("/v2/enqueue", event(token))
    assert response.status_code == 202
    key = response.json()["dedup_key"]
    assert len(key) == 32
    integration, _ = pagerduty
    assert Incident.objects.get().dedup_key == f"pd:{integration.pk}:{key}"
    # The returned key addresses the incident afterwards.
    post_json("/v2/enqueue", event(token, "resolve", key))
    assert Incident.objects.get().status == Status.RESOLVED


def test_trigger_acknowledge_resolve_by_dedup_key(pagerduty, post_json):
    _, token = pagerduty
    assert post_json("/v2/enqueue", event(token, dedup_key="k1")).status_code == 202
    assert post_json("/v2/enqueue", event(token, dedup_key="k1")).status_code == 202
    incident = Incident.objects.get()
    assert incident.alerts.get().count == 2

    response = post_json("/v2/enqueue", event(token, "acknowledge", "k1"))
    assert response.status_code == 202
    assert response.json()["dedup_key"] == "k1"
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED

    # A trigger while acknowledged joins the incident and does not re-trigger it.
    post_json("/v2/enqueue", event(token, dedup_key="k1"))
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED

    post_json("/v2/enqueue", event(token, "resolve", "k1"))
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.alerts.get().status == "resolved"

    # After resolve, a trigger with the same key opens a new incident.
    post_json("/v2/enqueue", event(token, dedup_key="k1"))
    assert Incident.objects.count() == 2
    assert Incident.objects.open().get().pk != incident.pk


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_of_unknown_key_is_accepted_and_dropped(
    pagerduty, post_json, action
):
    _, token = pagerduty
    response = post_json("/v2/enqueue", event(token, action, "never-seen"))
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "never-seen",
    }
    assert Incident.objects.count() == 0


def test_resolve_of_already_resolved_key_is_dropped(pagerduty, post_json):
    _, token = pagerduty
    post_json("/v2/enqueue", event(token, dedup_key="k"))
    post_json("/v2/enqueue", event(token, "resolve", "k"))
    assert post_json("/v2/enqueue", event(token, "resolve", "k")).status_code == 202
    incident = Incident.objects.get()
    assert incident.timeline.filter(kind="resolved").count() == 1


def test_higher_severity_trigger_raises_severity(pagerduty, post_json):
    _, token = pagerduty
    post_json("/v2/enqueue", event(token, dedup_key="k", severity="warning"))
    post_json("/v2/enqueue", event(token, dedup_key="k", severity="critical"))
    assert Incident.objects.get().severity == 4


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda e: e.pop("event_action"), "event_action"),
        (lambda e: e.update(event_action="explode"), "event_action"),
        (lambda e: e["payload"].pop("summary"), "payload.summary"),
        (lambda e: e["payload"].pop("source"), "payload.source"),
        (lambda e: e["payload"].update(severity="disaster"), "payload.severity"),
        (lambda e: e["payload"].update(summary="x" * 1025), "payload.summary"),
        (lambda e: e.update(dedup_key="k" * 256), "dedup_key"),
        (lambda e: e.pop("payload"), "payload"),
        (lambda e: e.update(payload="text"), "payload"),
        (lambda e: e["payload"].update(timestamp="yesterday"), "payload.timestamp"),
    ],
)
def test_invalid_event_answers_pagerdutys_400_naming_the_field(pagerduty, post_json, mutate, named):
    _, token = pagerduty
    document = event(token)
    mutate(document)
    response = post_json("/v2/enqueue", document)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert body["errors"][0].startswith(named)
    assert Incident.objects.count() == 0


def test_acknowledge_without_dedup_key_is_invalid(pagerduty, post_json):
    _, token = pagerduty
    response = post_json("/v2/enqueue", event(token, "acknowledge"))
    assert response.status_code == 400
    assert response.json()["errors"] == ["dedup_key: is required to acknowledge"]


def test_missing_and_unknown_routing_key(pagerduty, post_json):
    response = post_json("/v2/enqueue", {"event_action": "trigger"})
    assert response.status_code == 400
    assert response.json()["errors"] == ["routing_key: is required"]
    response = post_json("/v2/enqueue", event("0" * 32))
    assert response.status_code == 404
    assert response.json()["status"] == "invalid event"


def test_routing_key_of_another_kind_of_integration_is_unknown(alertmanager, post_json):
    _, token = alertmanager
    assert post_json("/v2/enqueue", event(token)).status_code == 404


def test_body_over_512_kib_is_413(pagerduty, post_json):
    _, token = pagerduty
    document = event(token)
    document["payload"]["custom_details"] = {"blob": "x" * (512 * 1024)}
    response = post_json("/v2/enqueue", json.dumps(document).encode())
    assert response.status_code == 413
    assert Incident.objects.count() == 0


def test_acknowledge_or_resolve_with_another_routing_key_is_dropped(service, pagerduty, post_json):
    from tests.ingest.factories import make_integration

    _, token = pagerduty
    _, other = make_integration(service, "pagerduty", name="second PD")
    post_json("/v2/enqueue", event(token, dedup_key="k"))
    assert post_json("/v2/enqueue", event(other, "acknowledge", "k")).status_code == 202
    assert post_json("/v2/enqueue", event(other, "resolve", "k")).status_code == 202
    assert Incident.objects.get().status == Status.TRIGGERED


def test_longest_dedup_key_is_kept_apart_from_others(pagerduty, post_json):
    _, token = pagerduty
    post_json("/v2/enqueue", event(token, dedup_key="a" * 255))
    post_json("/v2/enqueue", event(token, dedup_key="a" * 254 + "b"))
    assert Incident.objects.count() == 2
    assert all(len(i.dedup_key) <= 255 for i in Incident.objects.all())
