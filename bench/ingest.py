"""Benchmark of alert ingestion: `make bench-ingest` (python bench/ingest.py).

Drives POST /hooks/alertmanager/<token> with realistic two-alert Alertmanager payloads (half of
them new groups with new fingerprints, half repeats of known groups) at 16 and 64 connections,
and in the same run the bare one-INSERT view under identical gunicorn settings. It measures both
ways of applying a delivery: inline (inside the request, the default) and deferred (one INSERT
in the request, applied by the ingest queue), and how fast a worker applies deferred events.
Prints req/s, p50, p99 and the ratio to the baseline. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, BenchServer, WrkResult, machine, ratio_line, wrk  # noqa: E402

DURATION = int(os.environ.get("BENCH_DURATION", "15"))
CONNECTIONS = (16, 64)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")

SETUP = """
from accounts.models import Team
from incidents.actors import Actor
from incidents.ingest.services import create_integration
from incidents.models import Service
team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
service, _ = Service.objects.get_or_create(slug="bench-avatar", defaults={"team": team, "name": "Bench avatar"})
integration, token = create_integration(service=service, kind="alertmanager",
    name="bench " + __import__("uuid").uuid4().hex[:8], actor=Actor.system("bench"),
    rate_limit_per_minute=10**9)
print(token)
"""


COUNTS = (
    "from incidents.models import Incident, Alert, InboundEvent\n"
    "print(Incident.objects.count(), Alert.objects.count(),"
    " InboundEvent.objects.pending().count())"
)
PENDING = "from incidents.models import InboundEvent\nprint(InboundEvent.objects.pending().count())"
PURGE = (
    "from config.celery import app\n"
    "with app.connection_for_write() as conn:\n"
    "    print(conn.default_channel.queue_purge('ingest'))"
)


def alert(fingerprint: str, instance: str) -> dict:
    return {
        "status": "firing",
        "labels": {
            "alertname": "ChatLatencyHigh",
            "instance": instance,
            "job": "sales-avatar",
            "severity": "warning",
            "team": "avatars",
        },
        "annotations": {
            "summary": "Chat replies slower than 3 s",
            "description": f"p95 latency above 3 s on {instance}",
        },
        "startsAt": "2026-11-25T09:51:03.157Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=chat_latency_p95",
        "fingerprint": fingerprint,
    }


def payload(group: str) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}/{{team="avatars"}}:{{alertname="ChatLatencyHigh", group="{group}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "vigil",
            "groupLabels": {"alertname": "ChatLatencyHigh", "group": group},
            "commonLabels": {"alertname": "ChatLatencyHigh", "job": "sales-avatar"},
            "commonAnnotations": {"summary": "Chat replies slower than 3 s"},
            "externalURL": "http://alertmanager.example.org:9093",
            "alerts": [
                alert(f"{group}-1", f"{group}-a:8080"),
                alert(f"{group}-2", f"{group}-b:8080"),
            ],
        }
    ).encode()


def bodies(count: int) -> list[bytes]:
    """Half new groups (new fingerprints, a new incident each), half repeats of 10 known ones."""
    run = uuid.uuid4().hex[:8]
    result = []
    for i in range(count):
        group = f"repeat-{i % 10}" if i % 2 else f"new-{run}-{i}"
        result.append(payload(group))
    return result


ROUNDS = 3


def combined(runs: list) -> WrkResult:
    """Several short runs as one: total requests over total time, median latencies."""
    return WrkResult(
        requests=sum(r.requests for r in runs),
        seconds=sum(r.seconds for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p95_ms=statistics.median(r.p95_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        non_2xx=sum(r.non_2xx for r in runs),
        errors=sum(r.errors for r in runs),
    )


def measure(server: BenchServer, token: str, label: str, results: list[str]) -> dict:
    """Hook and bare view in alternating short rounds, so load from other work on the machine
    falls on both alike; DURATION seconds in total for each."""
    figures = {}
    seconds = max(1, DURATION // ROUNDS)
    for connections in CONNECTIONS:
        base_runs, hook_runs = [], []
        for _ in range(ROUNDS):
            base_runs.append(
                wrk(
                    f"{server.url}/bench/insert",
                    connections=connections,
                    duration=seconds,
                    method="POST",
                    bodies=[payload("baseline")],
                )
            )
            hook_runs.append(
                wrk(
                    f"{server.url}/hooks/alertmanager/{token}",
                    connections=connections,
                    duration=seconds,
                    method="POST",
                    bodies=bodies(1500),
                )
            )
        base, hook = combined(base_runs), combined(hook_runs)
        figures[connections] = (hook, base)
        for line in (
            base.line(f"bare INSERT view c={connections}"),
            hook.line(f"{label} c={connections}"),
            ratio_line(f"{label} c={connections}", hook, base),
        ):
            results.append(line)
            print(line, flush=True)
    return figures


def main() -> None:
    results: list[str] = []
    print(f"machine: {machine()}", flush=True)
    env = {"REDIS_URL": REDIS_URL, "INGEST_APPLY_INLINE": "1"}
    with BenchServer(name="ingest", env=env) as server:
        token = server.shell(SETUP).strip().splitlines()[-1]
        inline = measure(server, token, "alertmanager inline", results)
        counts = server.shell(COUNTS).split()
        results.append(
            f"after inline runs: {counts[0]} incidents, {counts[1]} alerts, "
            f"{counts[2]} events pending"
        )
        print(results[-1], flush=True)

    env = {"REDIS_URL": REDIS_URL, "INGEST_APPLY_INLINE": "0"}
    with BenchServer(name="ingest", env=env) as server:
        token = server.shell(SETUP).strip().splitlines()[-1]
        server.shell(PURGE)
        server.shell(  # leftovers of an earlier run would blur the drain figure
            "from incidents.models import InboundEvent\nInboundEvent.objects.pending().delete()"
        )
        # First the request path alone (no worker running), then one ingest worker applying
        # the backlog, then web and worker together as in production.
        deferred = measure(server, token, "alertmanager deferred, no worker", results)
        backlog = int(server.shell(PENDING).strip())
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "ingest",
             "--concurrency", "1", "--loglevel", "WARNING"],
            cwd=ROOT, env=server.env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            server.shell(
                "from incidents.tasks import apply_inbound_events\napply_inbound_events.delay()"
            )
            started = time.monotonic()
            pending = backlog
            while pending and time.monotonic() - started < 90:
                time.sleep(1)
                pending = int(server.shell(PENDING).strip())
            seconds = time.monotonic() - started
            results.append(
                f"one ingest worker applied {backlog - pending} of {backlog} queued events in "
                f"{seconds:.0f} s = {(backlog - pending) / seconds:.0f} events/s"
            )
            print(results[-1], flush=True)
            server.shell(
                "from incidents.models import InboundEvent\nInboundEvent.objects.pending().delete()"
            )
            together = wrk(
                f"{server.url}/hooks/alertmanager/{token}",
                connections=16,
                duration=DURATION,
                method="POST",
                bodies=bodies(3000),
            )
            results.append(together.line("deferred + worker c=16"))
            print(results[-1], flush=True)
            started = time.monotonic()
            pending = int(server.shell(PENDING).strip())
            left = pending
            while pending and time.monotonic() - started < 90:
                time.sleep(1)
                pending = int(server.shell(PENDING).strip())
            results.append(
                f"  {left} events still pending when that run ended, drained "
                f"{time.monotonic() - started:.0f} s later"
            )
            print(results[-1], flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=20)
        server.shell(PURGE)

    print()
    results.append(ratio_line("deferred + worker c=16", together, deferred[16][1]))
    print(results[-1])
    for label, figures in (("inline", inline), ("deferred", deferred)):
        hook, base = figures[16]
        met = hook.p99_ms < 50 and hook.rps / base.rps >= 0.5
        print(
            f"target for {label} (c=16: ratio >= 0.5, p99 < 50 ms): {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
