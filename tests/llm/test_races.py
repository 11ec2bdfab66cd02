"""Concurrent telemetry ingests on real PostgreSQL: no deadlock, every event stored, the breaker
opens once and the route changes once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import Role
from llm import telemetry
from llm.models import BreakerState, ModelEndpoint, RouteChange, TelemetryEvent
from llm.routing import recompute_route
from tests.factories import MembershipFactory
from tests.llm.factories import ModelEndpointFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_ingests_store_everything_and_open_the_breaker_once(service):
    primary = ModelEndpointFactory(
        service=service, name="primary", minimum_calls=40, open_wait_seconds=600
    )
    ModelEndpointFactory(service=service, name="secondary", tier=2, minimum_calls=100000)
    recompute_route(service_id=service.pk, reason="set up")
    user = MembershipFactory(team=service.team, role=Role.RESPONDER).user
    batch = [
        {"service": service.slug, "endpoint": "primary" if i % 2 else "secondary",
         "latency_ms": 100, "outcome": "server_error" if i % 2 else "ok"}
        for i in range(50)
    ]  # fmt: skip
    errors: list[BaseException] = []

    def worker():
        try:
            for _ in range(5):
                accepted, rejected = telemetry.ingest(user=user, events=batch)
                assert (accepted, rejected) == (50, [])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert TelemetryEvent.objects.count() == 4 * 5 * 50
    # Some ingest may have been throttled; the sweep judges what is left.
    from llm.breaker import sweep_breakers

    sweep_breakers()
    assert ModelEndpoint.objects.get(pk=primary.pk).breaker_state == BreakerState.OPEN
    assert RouteChange.objects.filter(service=service, from_tier=1, to_tier=2).count() == 1
