"""Celery on a real RabbitMQ: the ingest and notification paths end to end.

A real ``celery worker`` process runs with ``CELERY_BROKER_URL=amqp://...`` (so the settings,
queue declarations and publisher confirms are the production ones) against this test's
PostgreSQL database and a vhost of its own. Webhooks are posted through the web stack in this
process, which publishes to the same vhost; a local HTTP server is the L2 webhook channel and
counts the pages it receives.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from config import broker
from config.celery import QUEUES
from config.celery import app as celery_app
from incidents.ingest import kick
from incidents.models import InboundEvent, Incident
from oncall.models import Notification
from tests.broker.conftest import list_vhost
from tests.factories import (
    ChannelFactory,
    EscalationLevelFactory,
    EscalationPolicyFactory,
    ServiceEscalationFactory,
    make_integration,
)
from tests.ingest.factories import am_alert, am_group

ROOT = Path(__file__).resolve().parents[2]
# Bounds of every wait below: generous for a busy shared machine, never reached when it works.
WORKER_START_SECONDS = 300
OUTCOME_SECONDS = 120

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


class PageReceiver:
    """The L2 webhook channel: records every page it is sent, answers 200."""

    def __init__(self):
        self.pages: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.pages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"

    def references(self) -> list[str]:
        with self.lock:
            return sorted(page["incident"]["reference"] for page in self.pages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = PageReceiver()
    yield server
    server.close()


@pytest.fixture
def shared_cache(settings, tmp_path):
    """The web side (this process) and the worker share one cache, as they share Redis in
    production: the ingest kick flag is set by one and cleared by the other."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    return tmp_path


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def publish_to(rabbitmq_url, settings):
    """Point this process's Celery app at the test vhost with the settings' amqp options."""
    previous = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    celery_app.conf.broker_url = rabbitmq_url
    celery_app.conf.broker_transport_options = broker.transport_options(
        rabbitmq_url, broker_dir=settings.BROKER_DIR
    )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kick.broker_breaker.reset()
    settings.INGEST_APPLY_INLINE = False
    yield rabbitmq_url
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kick.broker_breaker.reset()


@pytest.fixture
def worker(rabbitmq_url, shared_cache, transactional_db, receiver):
    """A real ``celery worker`` process on the RabbitMQ vhost, stopped before the database is
    flushed. Its log is shown when a test fails."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": rabbitmq_url,
        "REDIS_URL": "",  # the file cache in VIGIL_DATA_DIR, shared with this process
        "VIGIL_DATA_DIR": str(shared_cache),
        "PROBE_ALLOWED_NETWORKS": "127.0.0.1/32",
        "VIGIL_BASE_URL": "https://vigil.example",
        "LOG_LEVEL": "INFO",
    }
    log_path = shared_cache / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "-Q", ",".join(QUEUES), "-P", "threads", "-c", "2", "-n", "broker-test@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def consuming() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{log_path.read_text()[-4000:]}")
        rows = list_vhost(rabbitmq_url, "consumers", "queue_name")
        return {row[0] for row in rows} >= set(QUEUES)

    try:
        wait_until(consuming, WORKER_START_SECONDS, "the worker to consume the four queues")
        yield process
    finally:
        # Cold shutdown: every test settles its queues before it ends, nothing is cut short.
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(log_path.read_text()[-4000:])


def _queues_settled(url: str) -> bool:
    """Nothing waiting and nothing taken but unacknowledged (acks_late: the ack follows the
    task's end), in any of the four queues."""
    rows = list_vhost(url, "queues", "name", "messages")
    return all(int(messages) == 0 for _, messages in rows)


def _assert_four_durable_queues_each_bound_by_its_own_key(url: str) -> None:
    queues = {row[0]: row[1:] for row in list_vhost(url, "queues", "name", "durable")}
    assert set(queues) >= set(QUEUES)
    assert all(queues[name] == ["true"] for name in QUEUES)
    exchanges = {row[0]: row[1:] for row in list_vhost(url, "exchanges", "name", "type", "durable")}
    assert all(exchanges[name] == ["direct", "true"] for name in QUEUES)
    columns = ("source_name", "destination_name", "routing_key")
    bindings = {tuple(row) for row in list_vhost(url, "bindings", *columns)}
    assert {(name, name, name) for name in QUEUES} <= bindings


def test_alerts_through_rabbitmq_open_incidents_and_page_each_once(
    service, rabbitmq_url, worker, publish_to, receiver, client
):
    """One worker start serves every check: it costs tens of seconds on a busy machine."""
    _assert_four_durable_queues_each_bound_by_its_own_key(rabbitmq_url)
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.connection.confirm_publish  # delay() returns once RabbitMQ has the message
    channel = ChannelFactory(team=service.team, target=receiver.url)
    policy = EscalationPolicyFactory(
        team=service.team,
        severity_rules={str(s): {"start": 2, "stop": 2, "inform": []} for s in range(1, 6)},
    )
    EscalationLevelFactory(policy=policy, number=2, timeout_minutes=60, channels=[channel])
    ServiceEscalationFactory(service=service, policy=policy)
    _, token = make_integration(service, "alertmanager")

    groups = [f'{{}}:{{alertname="Broker{n}"}}' for n in range(3)]
    statuses = []
    for repeat in range(3):  # every group fires three times: one incident each, one page each
        for n, group in enumerate(groups):
            body = am_group(am_alert(f"host-{n}"), group_key=group)
            response = client.post(
                f"/hooks/alertmanager/{token}",
                data=json.dumps(body),
                content_type="application/json",
            )
            statuses.append(response.status_code)
    assert set(statuses) == {202}

    # Applied by the worker (ingest queue), paged by the worker (notify queue).
    wait_until(
        lambda: len(receiver.references()) >= 3, OUTCOME_SECONDS, "a page for each new group"
    )
    wait_until(lambda: _queues_settled(rabbitmq_url), OUTCOME_SECONDS, "the queues to drain")
    # The sweeps a beat would send find nothing left to do, and send nothing twice.
    for name in (
        "incidents.tasks.sweep_inbound_events",
        "incidents.tasks.redispatch_events",
        "oncall.tasks.sweep",
    ):
        celery_app.send_task(name)
    wait_until(lambda: _queues_settled(rabbitmq_url), OUTCOME_SECONDS, "the sweeps to finish")

    incidents = list(Incident.objects.filter(service=service).order_by("pk"))
    assert len(incidents) == 3
    assert InboundEvent.objects.pending().count() == 0
    assert InboundEvent.objects.count() == 9
    assert receiver.references() == sorted(i.reference for i in incidents)
    pages = Notification.objects.filter(incident__in=incidents, channel=channel)
    assert sorted(pages.values_list("status", flat=True)) == ["sent"] * 3
