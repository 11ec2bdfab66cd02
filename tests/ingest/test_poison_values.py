"""Values that pass validation can be stored and shown; the ones that cannot are refused with a
4xx naming them, or clamped so the alert still opens its incident (issue 11, part 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.ingest import alertmanager, pagerduty
from incidents.ingest.payload import EARLIEST, LATEST, PayloadError, json_object
from incidents.ingest.services import apply_pending_batch
from incidents.models import Alert, InboundEvent, Incident
from tests.ingest.factories import am_alert, am_group

pytestmark = pytest.mark.django_db


def poisoned_group():
    """A real critical alert beside two whose startsAt PostgreSQL or Python cannot hold."""
    critical = am_alert("real", severity="critical")
    offset = am_alert("offset")
    offset["startsAt"] = "2026-11-25T09:51:03+16:00"
    far = am_alert("far")
    far["startsAt"] = "9999-12-31T23:59:59Z"
    return am_group(offset, far, critical)


def assert_opened_with_clamped_times(before):
    incident = Incident.objects.get()
    assert incident.severity == 4
    alerts = {a.fingerprint: a for a in incident.alerts.all()}
    assert set(alerts) == {"real", "offset", "far"}
    assert alerts["real"].starts_at == datetime(2026, 11, 25, 9, 51, 3, tzinfo=UTC)
    assert alerts["offset"].details == {"clamped_times": {"startsAt": "2026-11-25T09:51:03+16:00"}}
    assert alerts["far"].details == {"clamped_times": {"startsAt": "9999-12-31T23:59:59Z"}}
    for name in ("offset", "far"):
        assert before <= alerts[name].starts_at <= timezone.now()  # the receive time
    return incident


def test_alertmanager_times_out_of_range_are_clamped_and_the_critical_alert_opens(
    alertmanager, post_json
):
    _, token = alertmanager
    before = timezone.now()
    response = post_json(f"/hooks/alertmanager/{token}", poisoned_group())
    assert response.status_code == 202
    assert_opened_with_clamped_times(before)


def test_deferred_delivery_with_poisoned_times_is_applied_by_the_sweep(
    alertmanager, post_json, settings
):
    settings.INGEST_APPLY_INLINE = False
    _, token = alertmanager
    before = timezone.now()
    assert post_json(f"/hooks/alertmanager/{token}", poisoned_group()).status_code == 202
    assert apply_pending_batch() == (1, 1)
    assert_opened_with_clamped_times(before)
    assert InboundEvent.objects.get().parked_at is None


def test_clamped_alerts_show_in_the_room_and_the_alerts_api(
    alertmanager, post_json, responder, client
):
    _, token = alertmanager
    post_json(f"/hooks/alertmanager/{token}", poisoned_group())
    incident = Incident.objects.get()
    client.force_login(responder)
    listed = client.get("/api/v1/alerts/")
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 3
    assert client.get(f"/incidents/{incident.pk}/").status_code == 200


def test_pagerduty_timestamp_out_of_range_is_clamped_and_the_incident_opens(pagerduty, post_json):
    _, token = pagerduty
    body = {
        "routing_key": token,
        "event_action": "trigger",
        "payload": {
            "summary": "Bot down",
            "source": "probe-eu",
            "severity": "critical",
            "timestamp": "2026-11-25T09:51:03.000+16:00",
        },
    }
    assert post_json("/v2/enqueue", body).status_code == 202
    alert = Incident.objects.get().alerts.get()
    assert alert.details["clamped_times"] == {"timestamp": "2026-11-25T09:51:03.000+16:00"}
    assert alert.starts_at is not None


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"title": "x", "details": {"ratio": NaN}}', "details.ratio"),
        (b'{"title": "x", "details": {"ratio": -Infinity}}', "details.ratio"),
        (b'{"title": "x", "details": {"ratio": [1, 1e400]}}', "details.ratio[1]"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(generic, post_json, body, field):
    _, token = generic
    response = post_json(f"/hooks/generic/{token}", body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not InboundEvent.objects.exists()


def test_unicode_digit_severity_is_not_a_number(generic, post_json):
    _, token = generic
    response = post_json(f"/hooks/generic/{token}", {"title": "x", "severity": "²"})
    assert response.status_code == 400
    assert response.json()["field"] == "severity"


def test_unicode_digit_vigil_severity_label_falls_back_and_the_alert_opens(alertmanager, post_json):
    _, token = alertmanager
    group = am_group(am_alert("a", vigil_severity="²", severity="critical"))
    assert post_json(f"/hooks/alertmanager/{token}", group).status_code == 202
    assert Incident.objects.get().severity == 4


def test_unicode_digit_content_length_is_a_400(generic, client):
    _, token = generic
    response = client.generic(
        "POST",
        f"/hooks/generic/{token}",
        b'{"title": "x"}',
        content_type="application/json",
        CONTENT_LENGTH="²",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "Content-Length"


def test_deep_nesting_is_a_400_on_the_webhooks(generic, pagerduty, post_json):
    _, token = generic
    deep = b'{"title": "x", "details": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = post_json(f"/hooks/generic/{token}", deep)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["message"]
    unclosed = b"[" * 100_000
    assert post_json("/v2/enqueue", unclosed).status_code == 400
    assert not InboundEvent.objects.exists()


def test_nul_in_a_delivery_is_stored_replaced(generic, post_json):
    _, token = generic
    response = post_json(f"/hooks/generic/{token}", {"title": "bot\u0000down", "dedup_key": "k"})
    assert response.status_code == 202
    assert Incident.objects.get().title == "bot\ufffddown"


# --- parked deliveries --------------------------------------------------------------------


def stored_before_the_fix(integration):
    """A delivery accepted by the old parser: an offset PostgreSQL refuses, beside a real
    critical alert. Applying it raises a DataError on every attempt."""
    document = poisoned_group()
    normalized = alertmanager.parse(document, integration)
    normalized["alerts"][0]["starts_at"] = "2026-11-25T09:51:03+16:00"
    normalized["alerts"][0]["details"] = {}
    return InboundEvent.objects.create(
        integration=integration,
        received_at=timezone.now(),
        raw_body=json.dumps(document),
        normalized=normalized,
    )


def test_a_delivery_that_keeps_failing_is_parked_and_its_alert_still_opens_an_incident(
    alertmanager, client, admin_user
):
    integration, _ = alertmanager
    event = stored_before_the_fix(integration)
    for _attempt in range(4):
        assert apply_pending_batch() == (1, 0)
        event.refresh_from_db()
        assert event.processed_at is None and "DataError" in event.error
    assert not Incident.objects.exists()

    assert apply_pending_batch() == (1, 0)
    event.refresh_from_db()
    assert event.parked_at is not None and event.processed_at == event.parked_at
    assert "DataError" in event.error and '"groupKey"' in event.raw_body
    incident = Incident.objects.get()
    assert event.incident_id == incident.pk
    assert incident.severity == 4
    assert set(incident.alerts.values_list("fingerprint", flat=True)) == {"offset", "far", "real"}
    assert Alert.objects.get(fingerprint="offset").details == {"salvaged": True}
    entry = incident.timeline.get(kind="delivery_parked")
    assert f"inbound event {event.pk} is parked" in entry.message
    assert apply_pending_batch() == (0, 0)  # parked: never claimed again

    metrics = client.get("/metrics").content.decode()
    assert "vigil_ingest_parked 1.0" in metrics
    client.force_login(admin_user)
    page = client.get("/admin/incidents/inboundevent/?state=parked")
    assert page.status_code == 200
    assert f"/admin/incidents/inboundevent/{event.pk}/" in page.content.decode()
    assert (
        client.get("/admin/incidents/inboundevent/?state=applied").context["cl"].result_count == 0
    )


# --- redaction ----------------------------------------------------------------------------


def test_pagerduty_routing_key_is_not_stored_in_the_raw_body(pagerduty, post_json):
    _, token = pagerduty
    body = {
        "routing_key": token,
        "event_action": "trigger",
        "payload": {"summary": "Bot down", "source": "eu", "severity": "error"},
    }
    assert post_json("/v2/enqueue", body).status_code == 202
    raw = InboundEvent.objects.get().raw_body
    assert token not in raw
    assert '"routing_key": "[redacted]"' in raw


def test_admin_redacts_routing_keys_of_rows_stored_before_redaction(pagerduty, client, admin_user):
    integration, token = pagerduty
    event = InboundEvent.objects.create(
        integration=integration,
        received_at=timezone.now(),
        raw_body=json.dumps({"routing_key": token, "event_action": "trigger"}),
        normalized={"action": "acknowledge", "incident_key": "k", "alerts": []},
    )
    client.force_login(admin_user)
    page = client.get(f"/admin/incidents/inboundevent/{event.pk}/change/")
    assert page.status_code == 200
    assert token not in page.content.decode()
    assert "[redacted]" in page.content.decode()


# --- properties ---------------------------------------------------------------------------

offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)


def rfc3339(moment: datetime, offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{sign}{hours:02d}:{minutes:02d}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    offset=offsets,
)
def test_any_well_formed_time_is_stored_within_limits_or_clamped(moment, offset):
    integration = type("I", (), {"name": "x", "default_severity": 3, "severity_mapping": {}})
    moment = moment.replace(microsecond=0)
    value = rfc3339(moment, offset)
    normalized = alertmanager.parse(am_group({**am_alert("a"), "startsAt": value}), integration)
    alert = normalized["alerts"][0]
    if moment.year <= 1:
        return  # Go's zero time: no start time
    starts_at = datetime.fromisoformat(alert["starts_at"])
    assert EARLIEST <= starts_at < LATEST
    assert starts_at.utcoffset() == timedelta(0)
    if alert["details"]:
        assert alert["details"]["clamped_times"] == {"startsAt": value}
    else:
        assert starts_at == moment.replace(tzinfo=UTC) - timedelta(minutes=offset)


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_any_timestamp_text_is_refused_with_a_payload_error_or_accepted(value):
    integration = type("I", (), {"name": "x", "default_severity": 3, "severity_mapping": {}})
    document = {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "s", "severity": "info", "timestamp": value},
    }
    integration.pk = 1
    try:
        normalized = pagerduty.parse(document, integration)
    except PayloadError as exc:
        assert exc.field == "payload.timestamp"
        return
    starts_at = normalized["alerts"][0]["starts_at"]
    assert starts_at is None or EARLIEST <= datetime.fromisoformat(starts_at) < LATEST


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=3), children, max_size=3)
        ),
        max_leaves=30,
    )
)
def test_json_bodies_parse_to_finite_values_or_a_payload_error(value):
    body = json.dumps({"doc": value}).encode()  # json.dumps writes NaN and Infinity
    try:
        parsed = json_object(body)
    except PayloadError as exc:
        assert exc.field.startswith("doc")
        assert "finite" in exc.problem or "nested" in exc.problem
        return
    json.dumps(parsed, allow_nan=False)  # storable in jsonb: raises on NaN/Infinity
