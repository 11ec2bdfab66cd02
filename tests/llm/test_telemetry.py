"""POST /api/v1/telemetry and /feedback: validation by index, one INSERT, rollups, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.tokens import create_token
from incidents.actors import Actor
from llm import telemetry
from llm.models import Feedback, ModelProbeResult, TelemetryEvent, TelemetryMinute
from tests.factories import MembershipFactory
from tests.llm.factories import ModelEndpointFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/telemetry"


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.API_THROTTLE_RATE = ""


@pytest.fixture
def gateway(service):
    user = MembershipFactory(team=service.team, role=Role.RESPONDER).user
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(user=user, name='gw', actor=Actor.of_user(user)).plaintext}"
    )
    client.user = user
    return client


@pytest.fixture
def endpoint(service):
    # Breaker thresholds out of reach: these tests are about storage, not failover.
    return ModelEndpointFactory(
        service=service, name="primary", price_in_per_1k=Decimal("0.5"),
        price_out_per_1k=Decimal("1.5"), minimum_calls=100000,
    )  # fmt: skip


def event(service, **extra):
    return {"service": service.slug, "endpoint": "primary", "latency_ms": 800, "ttft_ms": 200,
            "outcome": "ok", "tokens_in": 1000, "tokens_out": 200, **extra}  # fmt: skip


def test_bad_events_are_rejected_by_index_and_the_rest_stored(gateway, service, endpoint):
    events = [
        event(service),
        event(service, latency_ms="fast"),
        event(service, tokens_in=-3),
        event(service, latency_ms=86_400_001),
        event(service, endpoint="nope"),
        event(service) | {"service": "other-service"},
        event(service, outcome="exploded"),
        event(service, time="yesterday"),
        event(service, time="1900-01-01T00:00:00Z"),
        "not an object",
        event(service, feedback=float("nan")) | {"feedback": 5},
        event(service, extra_field=1),
        event(service, cost="12.5", time="2026-11-29T10:00:00+00:00", outcome="rate_limit"),
    ]
    response = gateway.post(URL, {"events": events}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    rejected = {r["index"]: r["error"] for r in body["rejected"]}
    assert sorted(rejected) == list(range(1, 12))
    assert "latency_ms must be a number" in rejected[1]
    assert "tokens_in must not be negative" in rejected[2]
    assert "latency_ms must be at most 86400000" in rejected[3]
    assert "has no endpoint 'nope'" in rejected[4]
    assert "unknown service 'other-service'" in rejected[5]
    assert "outcome must be one of" in rejected[6]
    assert "ISO 8601" in rejected[7]
    assert "between 1970 and 2100" in rejected[8]
    assert "JSON object" in rejected[9]
    assert "feedback" in rejected[10]
    assert "unknown field(s): extra_field" in rejected[11]
    stored = list(TelemetryEvent.objects.order_by("id"))
    assert len(stored) == 2
    # Cost computed from the endpoint's prices: 1000/1000*0.5 + 200/1000*1.5 = 0.8.
    assert stored[0].cost == Decimal("0.800000") and stored[0].outcome == "ok"
    assert stored[1].cost == Decimal("12.500000") and stored[1].outcome == "rate_limit"
    assert stored[1].at == datetime(2026, 11, 29, 10, tzinfo=UTC)


@pytest.mark.postgres  # SQLite's bulk_create splits rows by its variable limit
def test_a_batch_is_one_insert(gateway, service, endpoint):
    events = [event(service, latency_ms=i) for i in range(500)]
    with CaptureQueriesContext(connection) as queries:
        response = gateway.post(URL, {"events": events}, format="json")
    assert response.json() == {"accepted": 500, "rejected": []}
    inserts = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith('INSERT INTO "llm_telemetryevent"')
        or q["sql"].lstrip().startswith("INSERT INTO llm_telemetryevent")
    ]
    assert len(inserts) == 1
    assert TelemetryEvent.objects.count() == 500


def test_envelope_problems_are_400(gateway, service, endpoint, settings):
    assert gateway.post(URL, {"nope": []}, format="json").status_code == 400
    assert gateway.post(URL, [1, 2], format="json").status_code == 400
    settings.LLM_TELEMETRY_MAX_EVENTS = 3
    too_many = gateway.post(URL, {"events": [event(service)] * 4}, format="json")
    assert too_many.status_code == 400 and "At most 3 events" in too_many.json()["error"]["message"]
    assert APIClient().post(URL, {"events": []}, format="json").status_code == 401


def test_viewer_cannot_report_for_the_service(service, endpoint):
    viewer = MembershipFactory(team=service.team, role=Role.VIEWER).user
    accepted, rejected = telemetry.ingest(user=viewer, events=[event(service)])
    assert accepted == 0 and "unknown service" in rejected[0]["error"]


def test_rollup_percentiles_match_hand_computed_values(service, endpoint):
    minute = datetime(2026, 11, 29, 10, 15, tzinfo=UTC)
    latencies = [100, 200, 300, 400, 1000]
    rows = [
        (service.pk, endpoint.pk, minute + timedelta(seconds=i), timezone.now(), lat, lat // 2,
         "ok" if i < 3 else ("timeout" if i == 3 else "rate_limit"), 10, 5, Decimal("0.01"),
         -1.0 if i == 0 else None)
        for i, lat in enumerate(latencies)
    ]  # fmt: skip
    rows.append((service.pk, endpoint.pk, minute + timedelta(minutes=1), timezone.now(), 50,
                 None, "ok", 1, 1, Decimal(0), None))  # fmt: skip
    telemetry.insert_rows(rows)
    assert telemetry.rollup_since(timezone.now() - timedelta(minutes=5)) == 2
    rollup = TelemetryMinute.objects.get(endpoint=endpoint, minute=minute)
    # percentile_cont: p50 of [100..1000] is 300; p95 at rank 3.8 -> 400 + 0.8 * 600 = 880;
    # p99 at rank 3.96 -> 400 + 0.96 * 600 = 976.
    assert rollup.calls == 5 and rollup.errors == 2
    assert rollup.errors_by_kind == {"timeout": 1, "rate_limit": 1}
    assert rollup.latency_p50_ms == 300
    assert rollup.latency_p95_ms == pytest.approx(880)
    assert rollup.latency_p99_ms == pytest.approx(976)
    assert rollup.ttft_p50_ms == 150
    assert rollup.slow == 2  # 400 and 1000 over slow_call_ms 300
    assert rollup.tokens_in == 50 and rollup.tokens_out == 25
    assert rollup.cost == Decimal("0.05")
    assert (rollup.feedback_count, rollup.feedback_negative) == (1, 1)

    # A late event for the same minute is counted on the next run.
    telemetry.insert_rows([(service.pk, endpoint.pk, minute, timezone.now(), 5000, None, "ok",
                            0, 0, Decimal(0), None)])  # fmt: skip
    telemetry.rollup_since(timezone.now() - timedelta(seconds=2))
    rollup = TelemetryMinute.objects.get(endpoint=endpoint, minute=minute)
    assert rollup.calls == 6 and rollup.latency_p50_ms == 350


def test_percentile_matches_postgres_percentile_cont(service):
    values = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    if connection.vendor != "postgresql":
        pytest.skip("compares with PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY v) "
            "FROM unnest(%s::float8[]) AS v",
            [values],
        )
        expected = cursor.fetchone()[0]
    got = [telemetry.percentile(values, f) for f in (0.5, 0.95, 0.99)]
    assert got == pytest.approx(expected)


def test_retention_purges_raw_events_but_keeps_rollups(service, endpoint, settings):
    settings.LLM_TELEMETRY_RETENTION_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    telemetry.insert_rows(
        [(service.pk, endpoint.pk, old, old, 10, None, "ok", 0, 0, Decimal(0), None)]
    )
    telemetry.insert_rows(
        [
            (
                service.pk,
                endpoint.pk,
                timezone.now(),
                timezone.now(),
                10,
                None,
                "ok",
                0,
                0,
                Decimal(0),
                None,
            )
        ]
    )
    ModelProbeResult.objects.create(endpoint=endpoint, at=old, ok=True, outcome="ok", latency_ms=5)
    telemetry.rollup_since(old - timedelta(minutes=1))
    assert telemetry.purge_old() == 2
    assert TelemetryEvent.objects.count() == 1
    assert TelemetryMinute.objects.count() == 2


def test_feedback_takes_a_thumbs_down_with_comment(gateway, service, endpoint, outsider):
    response = gateway.post(
        "/api/v1/feedback",
        {"service": service.slug, "conversation": "conv-42", "comment": "made up a price",
         "endpoint": "primary"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 202
    feedback = Feedback.objects.get(pk=response.json()["id"])
    assert feedback.negative and feedback.comment == "made up a price"
    assert feedback.endpoint == endpoint
    assert gateway.post("/api/v1/feedback", {"service": "nope", "conversation": "c"},
                        format="json").status_code == 404  # fmt: skip
    assert (
        gateway.post("/api/v1/feedback", {"service": service.slug}, format="json").status_code
        == 400
    )
    assert gateway.post("/api/v1/feedback", {"service": service.slug, "conversation": "c\x00"},
                        format="json").status_code == 400  # fmt: skip
    foreign = APIClient()
    foreign.credentials(
        HTTP_AUTHORIZATION=f"Bearer {create_token(user=outsider, name='x', actor=Actor.of_user(outsider)).plaintext}"
    )
    assert foreign.post("/api/v1/feedback", {"service": service.slug, "conversation": "c"},
                        format="json").status_code == 404  # fmt: skip
