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
        logger.setLevel(logging.DEBUG)  # a quiet self-watch tick is a DEBUG line
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


def publish_and_run(task_name: str):
    """Publish a task through a real broker connection (kombu's in-memory transport, so the
    publish signals and message headers are the real ones), take the message off the queue and
    run it from its headers as a worker does. Leaves the app's own pool and settings alone."""
    from kombu import Exchange, Queue

    import ops.tasks  # noqa: F401 (registers the tasks, as the worker's autodiscovery does)
    from config.celery import app

    task = app.tasks[task_name]
    queue = Queue("vigil-test-queue", Exchange("vigil-test", type="direct"), routing_key="t")
    with app.connection_for_write("memory://") as conn:
        bound = queue(conn.default_channel)
        bound.declare()
        result = task.apply_async(connection=conn, queue=queue)
        message = bound.get(no_ack=True)
        assert message is not None, "nothing was published"
    headers = dict(message.headers)
    assert headers["id"] == result.id and headers["task"] == task_name
    args, kwargs, _embed = message.decode()
    outcome = task.apply(args=args, kwargs=kwargs, task_id=headers["id"], headers=headers)
    return result.id, headers, outcome


@pytest.mark.django_db
def test_request_id_travels_into_the_task_it_enqueues(json_lines, settings):
    settings.SELFWATCH_PING_URL = ""
    tokens = logs.bind(request_id="req-from-the-web-1")
    try:
        task_id, headers, _ = publish_and_run("ops.tasks.selfwatch_tick")
    finally:
        logs.unbind(tokens)
    assert headers[logs.HEADER] == "req-from-the-web-1"  # in the message itself
    assert logs.current("request_id") is None  # nothing leaks into this thread
    (line,) = [e for e in json_lines() if e["logger"] == "ops.selfwatch"]
    assert line["request_id"] == "req-from-the-web-1"
    assert line["task_id"] == task_id and line["task"] == "ops.tasks.selfwatch_tick"
    assert "self-watch tick" in line["message"]


@pytest.mark.django_db
def test_a_task_published_outside_a_request_has_no_request_id(json_lines, settings):
    settings.SELFWATCH_PING_URL = ""
    _, headers, _ = publish_and_run("ops.tasks.selfwatch_tick")
    assert logs.HEADER not in headers
    (line,) = [e for e in json_lines() if e["logger"] == "ops.selfwatch"]
    assert "request_id" not in line and line["task_id"]


def test_exceptions_are_one_json_line_too(json_lines):
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("vigil.test").exception("it failed")
    (line,) = json_lines()
    assert line["message"] == "it failed" and "ValueError: boom" in line["exc"]
