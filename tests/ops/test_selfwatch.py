"""Self-watch: the dead-man's ping leaves on beat's schedule through a worker; the banner and
/readyz name beat, workers or the ingest backlog when they are unhealthy."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from ops import selfwatch


@pytest.fixture
def switch():
    """A healthchecks-style dead-man's switch on 127.0.0.1 counting pings."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield type(
        "Switch", (), {"hits": hits, "url": f"http://127.0.0.1:{server.server_port}/ping/abc"}
    )
    server.shutdown()
    server.server_close()


@pytest.fixture
def memory_broker():
    """A broker that always answers, so /readyz's own broker check passes."""
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "memory://"
    yield
    app.conf.broker_url = previous


def test_beat_schedules_the_tick_every_interval(settings):
    from config.celery import app

    app.loaded_configuration = None
    app.finalize()
    entry = app.conf.beat_schedule["ops-selfwatch"]
    assert entry["task"] == "ops.tasks.selfwatch_tick"
    assert entry["schedule"] == settings.SELFWATCH_INTERVAL_SECONDS == 60


@pytest.mark.django_db
def test_each_tick_pings_the_dead_mans_switch(switch, settings):
    from ops.tasks import selfwatch_tick

    settings.SELFWATCH_PING_URL = switch.url
    selfwatch_tick.apply()
    selfwatch_tick.apply()
    assert switch.hits == ["/ping/abc", "/ping/abc"]
    assert selfwatch.problems() == {} or "beat" in selfwatch.problems()


@pytest.mark.django_db
def test_published_tick_marks_beat_alive_and_the_worker_run_marks_workers_alive(switch, settings):
    """Published through a broker connection (in-memory transport), then run from the message
    as a worker runs it: publishing notes beat, running notes the worker and pings."""
    from django.core.cache import cache

    from tests.ops.test_logs import publish_and_run

    settings.SELFWATCH_PING_URL = switch.url
    publish_and_run("ops.tasks.selfwatch_tick")
    assert cache.get(selfwatch.BEAT_KEY) and cache.get(selfwatch.WORKER_KEY)
    assert switch.hits == ["/ping/abc"]


@pytest.mark.django_db
def test_stale_beat_and_workers_show_a_banner_and_are_named_by_readyz(
    client, responder, memory_broker
):
    from django.core.cache import cache

    now = time.time()
    cache.set(selfwatch.WATCHING_SINCE_KEY, now - 3600, None)
    cache.set(selfwatch.BEAT_KEY, now - 600, None)
    cache.set(selfwatch.WORKER_KEY, now - 900, None)
    found = selfwatch.problems(now)
    assert set(found) == {"beat", "workers"}

    client.force_login(responder)
    html = client.get("/incidents/").content.decode()
    assert "Vigil itself is unhealthy" in html and "no worker has run a self-watch tick" in html

    ready = client.get("/readyz")
    # Named, but web stays in the load balancer: a stopped beat must not stop alert ingestion.
    assert ready.status_code == 200, ready.json()
    assert ready.json()["status"] == "degraded"
    assert {"beat", "workers"} <= set(ready.json()["degraded"])
    checks = ready.json()["checks"]
    assert "celery beat sent its last self-watch tick" in checks["beat"]
    assert checks["ingest_backlog"] == "ok"


@pytest.mark.django_db
def test_ingest_backlog_over_the_limit_is_named(settings):
    from django.core.cache import cache

    settings.SELFWATCH_BACKLOG_LIMIT = 10
    now = time.time()
    cache.set_many({selfwatch.BEAT_KEY: now, selfwatch.WORKER_KEY: now,
                    selfwatch.BACKLOG_KEY: 11})  # fmt: skip
    assert set(selfwatch.problems(now)) == {"ingest_backlog"}


@pytest.mark.django_db
def test_fresh_install_shows_no_banner_before_the_first_ticks_are_due(client, responder):
    client.force_login(responder)
    assert "Vigil itself is unhealthy" not in client.get("/incidents/").content.decode()
