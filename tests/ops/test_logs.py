"""JSON log lines parse, carry the request id (returned in X-Request-ID), the user and the
incident, and the id travels with the tasks a request enqueues into the worker's log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from config import logs
from tests.factories import IncidentFactory


@pytest.fixture
def json_lines():
    """Every log line, formatted as in production with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    # Named loggers, not the root: a worker start re-applies LOGGING to the root logger.
    loggers = [logging.getLogger(n) for n in ("vigil.request", "ops.selfwatch", "vigil.test")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def test_settings_switch_to_json_with_log_format():
    config = logs.logging_config(fmt="json", level="INFO")
    assert config["handlers"]["console"]["formatter"] == "json"
    assert (
        logs.logging_config(fmt="text", level="INFO")["handlers"]["console"]["formatter"] == "text"
    )


@pytest.mark.django_db
def test_each_request_gets_an_id_in_its_header_and_its_json_lines(client, responder, json_lines):
    client.force_login(responder)
    incident = IncidentFactory(service__team=responder.memberships.get().team)
    response = client.get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    (line,) = [entry for entry in json_lines() if entry["logger"] == "vigil.request"]
    assert line["request_id"] == request_id
    assert line["user"] == responder.username
    assert line["incident"] == incident.pk
    assert line["status"] == 200 and line["path"] == f"/incidents/{incident.pk}/"
    assert line["level"] == "INFO" and line["ts"].endswith("+00:00")


@pytest.mark.django_db
def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.1")["X-Request-ID"] == "lb-7f3a.1"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID='x"\n{"level":"FAKE"}')["X-Request-ID"]
    assert len(replaced) == 32 and '"' not in replaced


@pytest.mark.django_db
def test_request_id_travels_into_the_task_it_enqueues(json_lines, settings):
    """A real publish through a broker (in-memory transport) to a real worker thread."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app
    from ops.tasks import selfwatch_tick

    settings.SELFWATCH_PING_URL = ""
    old = (app.conf.broker_url, app.conf.task_always_eager, app.conf.result_backend)
    app.conf.broker_url, app.conf.task_always_eager = "memory://", False
    app.conf.result_backend = "cache+memory://"
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=["default"]):
            tokens = logs.bind(request_id="req-from-the-web-1")
            try:
                result = selfwatch_tick.apply_async(queue="default")
            finally:
                logs.unbind(tokens)
            result.get(timeout=20)
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app.conf.result_backend = old
    (line,) = [e for e in json_lines() if e["logger"] == "ops.selfwatch"]
    assert line["request_id"] == "req-from-the-web-1"
    assert line["task_id"] == result.id and line["task"] == "ops.tasks.selfwatch_tick"
    assert "self-watch tick" in line["message"]


def test_exceptions_are_one_json_line_too(json_lines):
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("vigil.test").exception("it failed")
    (line,) = json_lines()
    assert line["message"] == "it failed" and "ValueError: boom" in line["exc"]
