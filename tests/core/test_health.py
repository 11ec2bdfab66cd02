import json

import pytest
from django.db.utils import OperationalError

from config import health


@pytest.mark.django_db
def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_and_broker_answer(client, restore_broker):
    _use_broker("memory://")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["broker"] == "ok"


def _use_broker(url):
    from config.celery import app

    app.conf.broker_url = url
    app.pool.force_close_all()
    # A force-closed pool refuses every later acquire ("Acquire on closed pool"), and kombu
    # keeps producer pools in a process-wide registry: clear it too, so the next publish in
    # this process (another test's after-commit enqueue, even an eager one) builds new pools.
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def restore_broker():
    from config.celery import app

    original = app.conf.broker_url
    yield
    _use_broker(original)


@pytest.mark.django_db
def test_readyz_reports_a_stopped_broker_as_503(client, settings, restore_broker):
    # Nothing listens on port 1: a stopped Redis looks exactly like this.
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
    _use_broker("redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"].startswith("broker unreachable")
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_names_a_failing_database(client, monkeypatch, restore_broker):
    _use_broker("memory://")

    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database unreachable" in json.loads(response.content)["checks"]["database"]


@pytest.mark.django_db
def test_registered_check_joins_readiness(client, restore_broker):
    _use_broker("memory://")
    health.register_readiness_check("scheduler", lambda: "last tick 90 s ago")
    try:
        response = client.get("/readyz")
    finally:
        health._checks.pop("scheduler")
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"] == "last tick 90 s ago"


def test_health_endpoints_refuse_post(client):
    assert client.post("/healthz").status_code == 405
