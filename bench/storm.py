"""make bench-storm: an alert storm end to end, measured where the page arrives.

A production-like gunicorn (bench.harness.BenchServer) takes Alertmanager webhooks; N Celery
worker processes (all queues, as in the Procfile) and a beat apply them and page. A local HTTP
receiver in this process is the level-2 webhook channel of every service's policy (level 2 for
every severity, so each new incident pages it at once). Per worker count (1, then 2):

  1. warm-up: 200 groups fire once; their incidents open and page (these pages are not timed);
  2. burst: wrk drives the webhook as fast as it answers for --seconds (60 by default) with
     90 % repeats of those 200 open groups and 10 % new groups, each with a unique group key;
  3. drain: the backlog is watched every second until it is empty, then every new group's
     page is awaited (bounded).

Printed: accepted req/s (2xx), applied deliveries/s during the burst and their ratio; for
each new group the time from its acceptance (the committed event's received_at, written just
before the 2xx) to its page at the receiver: p50, p99, max; backlog depth over time; seconds
to drain; lost deliveries (2xx without a stored event, or a new group never paged) and
duplicate pages (a second page for one incident), both counted at the receiver.
Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ROOT,
    BenchServer,
    _ensure_wrk,
    machine,
    write_doc_section,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
OPEN_GROUPS = 200
SERVICES = 4
CONNECTIONS = 32
DOC = ROOT / "docs" / "performance-storm.md"


# --- the receiver ------------------------------------------------------------------------


class Receiver:
    """Collects pages: (arrival time, incident id) per POST."""

    def __init__(self):
        self.pages: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                at = time.time()
                try:
                    incident_id = int(json.loads(body)["incident"]["id"])
                except (ValueError, KeyError, TypeError):
                    incident_id = -1
                with receiver._lock:
                    receiver.pages.append((at, incident_id))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[tuple[float, int]]:
        with self._lock:
            return list(self.pages)

    def close(self) -> None:
        self.server.shutdown()


# --- payloads ----------------------------------------------------------------------------


def group_document(group: str) -> dict:
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "vigil",
        "groupLabels": {"alertname": "ChatLatencyHigh"},
        "commonLabels": {"alertname": "ChatLatencyHigh", "severity": "critical"},
        "commonAnnotations": {"summary": "Chat replies slower than 3 s"},
        "externalURL": "http://alertmanager.example.org",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "ChatLatencyHigh", "instance": f"{group}-{i}"},
                "annotations": {"summary": "Chat replies slower than 3 s"},
                "startsAt": "2026-11-25T09:51:03.157Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": hashlib.sha256(f"{group}-{i}".encode()).hexdigest()[:16],
            }
            for i in range(2)
        ],
    }


def incident_key(group: str) -> str:
    return "am:" + hashlib.sha256(group.encode()).hexdigest()[:40]


def _lua(value: str) -> str:
    return "[====[" + value + "]====]"


def storm_script(paths: list[str], repeat_bodies: list[str], run: str) -> str:
    """wrk Lua: 90 % a repeat of an open group, 10 % a new group (unique key per thread and
    request); each wrk thread picks its service's hook in turn."""
    template = json.dumps(group_document("GROUPKEY"))
    return f"""
local paths = {{{", ".join(_lua(p) for p in paths)}}}
local repeats = {{{", ".join(_lua(b) for b in repeat_bodies)}}}
local template = {_lua(template)}
local counter = 0
local tid = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(tid * 7919 + os.time())
end
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local body
  if math.random() < 0.1 then
    local key = "new-{run}-" .. tid .. "-" .. counter
    body = string.gsub(template, "GROUPKEY", key)
  else
    body = repeats[math.random(#repeats)]
  end
  return wrk.format("POST", path, {{["Content-Type"] = "application/json"}}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non2xx\\": %d, \\"errors\\": %d}}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# --- the system under test -----------------------------------------------------------------

SETUP = """
import json
from accounts.models import Team
from incidents.actors import Actor
from incidents.ingest.services import create_integration
from incidents.models import Service
from oncall.models import Channel, EscalationLevel, EscalationPolicy, ServiceEscalation
team, _ = Team.objects.get_or_create(slug="storm", defaults={"name": "Storm"})
channel, _ = Channel.objects.update_or_create(team=team, name="storm receiver",
    defaults={"kind": "webhook", "target": RECEIVER})
rules = {str(s): {"start": 2, "stop": 2, "inform": []} for s in range(1, 6)}
policy, _ = EscalationPolicy.objects.update_or_create(team=team, name="Storm",
    defaults={"severity_rules": rules, "repeat_last_level": 0})
level, _ = EscalationLevel.objects.get_or_create(policy=policy, number=2,
    defaults={"timeout_minutes": 60})
level.channels.set([channel])
tokens = []
for i in range(SERVICES):
    service, _ = Service.objects.get_or_create(team=team, slug=f"storm-{i}",
        defaults={"name": f"Storm {i}"})
    ServiceEscalation.objects.update_or_create(service=service, defaults={"policy": policy})
    integration, token = create_integration(service=service, kind="alertmanager",
        name="storm " + __import__("uuid").uuid4().hex[:8], actor=Actor.system("bench"),
        rate_limit_per_minute=10**9)
    tokens.append(token)
print(json.dumps(tokens))
"""

CLEAN = """
from django.db import connection
from incidents.models import InboundEvent, Incident
Incident.objects.filter(service__slug__startswith="storm-").delete()
InboundEvent.objects.all().delete()
from config.celery import app
with app.connection_for_write() as conn:
    for queue in ("ingest", "notify", "default", "probes"):
        try:
            conn.default_channel.queue_purge(queue)
        except Exception:
            pass
"""

RESULTS = """
import json
from django.db.models import Min
from incidents.models import InboundEvent, Incident
first = {
    row["normalized__incident_key"]: row["at"].timestamp()
    for row in InboundEvent.objects.values("normalized__incident_key").annotate(at=Min("received_at"))
}
incidents = list(Incident.objects.filter(service__slug__startswith="storm-")
    .values_list("pk", "dedup_key"))
events = InboundEvent.objects.count()
pending = InboundEvent.objects.filter(processed_at__isnull=True).count()
parked = InboundEvent.objects.filter(parked_at__isnull=False).count()
print(json.dumps({"first": first, "incidents": incidents, "events": events,
                  "pending": pending, "parked": parked}))
"""


def pending_count(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM incidents_inboundevent WHERE processed_at IS NULL"
        ).fetchone()
    return row[0]


def start_workers(server: BenchServer, count: int, data_dir: Path) -> list[subprocess.Popen]:
    processes = []
    for i in range(count):
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q",
                 "ingest,probes,notify,default", "--concurrency", "1", "-n", f"storm{i}@%h",
                 "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
                cwd=ROOT, env=server.env, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    processes.append(
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
             "--schedule", str(data_dir / "storm-beat-schedule")],
            cwd=ROOT, env=server.env, stderr=subprocess.DEVNULL,
        )
    )  # fmt: skip
    return processes


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def post(url: str, body: bytes) -> int:
    import urllib.request

    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    for attempt in range(5):  # a cold gunicorn worker on a busy machine can take a while
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (local)
                return response.status
        except OSError:
            if attempt == 4:
                raise
            time.sleep(1)
    return 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_storm(workers: int, seconds: int, receiver: Receiver) -> dict:
    run = f"w{workers}-{int(time.time())}"
    env = {
        "REDIS_URL": REDIS_URL,
        "INGEST_APPLY_INLINE": "0",
        "PROBE_ALLOWED_NETWORKS": "127.0.0.1/32",
        "EVENTS_SWEEP_SECONDS": "3",
    }
    with BenchServer(name="storm", env=env, startup_timeout=300) as server:
        data_dir = server.data_dir
        server.shell(CLEAN)
        tokens = json.loads(
            server.shell(SETUP.replace("RECEIVER", repr(receiver.url)).replace(
                "SERVICES", str(SERVICES)
            )).strip().splitlines()[-1]
        )  # fmt: skip
        paths = [f"/hooks/alertmanager/{token}" for token in tokens]
        processes = start_workers(server, workers, data_dir)
        try:
            # 1. warm-up: 200 open groups, paged once each (not timed)
            open_groups = [f"open-{run}-{i}" for i in range(OPEN_GROUPS)]
            repeat_bodies = []
            for i, group in enumerate(open_groups):
                body = json.dumps(group_document(group))
                repeat_bodies.append(body)
                post(server.url + paths[i % len(paths)], body.encode())
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if pending_count(server.env["DATABASE_URL"]) == 0:
                    paged = {i for _, i in receiver.snapshot()}
                    if len(paged) >= OPEN_GROUPS:
                        break
                time.sleep(1)
            warm_pages = len(receiver.snapshot())
            time.sleep(2)

            # 2. burst, with the backlog sampled every second
            backlog: list[tuple[float, int]] = []
            stop_sampling = threading.Event()
            started = time.monotonic()

            def sample():
                while not stop_sampling.is_set():
                    try:
                        depth = pending_count(server.env["DATABASE_URL"])
                    except Exception:
                        depth = -1
                    backlog.append((time.monotonic() - started, depth))
                    stop_sampling.wait(1.0)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            # wrk paths alternate between the services; the script cycles them itself
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(storm_script(paths, repeat_bodies, run))
            try:
                done = subprocess.run(
                    [_ensure_wrk(), "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout",
                     "10s", "-s", script.name, server.url],
                    capture_output=True, text=True, timeout=seconds + 60,
                )  # fmt: skip
            finally:
                os.unlink(script.name)
            burst_end = time.monotonic()
            at_end = pending_count(server.env["DATABASE_URL"])
            figures = next(
                json.loads(line[len("WRKJSON ") :])
                for line in done.stdout.splitlines()
                if line.startswith("WRKJSON ")
            )

            # 3. drain
            drained_at = None
            while time.monotonic() - burst_end < 180:
                if pending_count(server.env["DATABASE_URL"]) == 0:
                    drained_at = time.monotonic()
                    break
                time.sleep(0.5)
            stop_sampling.set()
            sampler.join()
            results = json.loads(server.shell(RESULTS).strip().splitlines()[-1])
            new_incidents = {pk: key for pk, key in results["incidents"] if key in results["first"]}
            open_keys = {incident_key(g) for g in open_groups}
            new_ids = {pk for pk, key in new_incidents.items() if key not in open_keys}
            # wait (bounded) for the pages of every new incident
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if new_ids <= {i for _, i in receiver.snapshot()}:
                    break
                time.sleep(0.5)
            pages = receiver.snapshot()[warm_pages:]
        finally:
            stop(processes)
            server.shell(CLEAN)

    first_page: dict[int, float] = {}
    per_incident: dict[int, int] = {}
    for at, incident_id in pages:
        per_incident[incident_id] = per_incident.get(incident_id, 0) + 1
        first_page.setdefault(incident_id, at)
    latencies = [
        first_page[pk] - results["first"][new_incidents[pk]] for pk in new_ids if pk in first_page
    ]
    accepted = figures["requests"] - figures["non2xx"] - figures["errors"]
    burst_seconds = figures["duration_us"] / 1e6
    applied = accepted - at_end
    return {
        "workers": workers,
        "accepted": accepted,
        "burst_seconds": burst_seconds,
        "accepted_rps": accepted / burst_seconds,
        "applied_rps": applied / burst_seconds,
        "ratio": applied / accepted if accepted else 0.0,
        "non2xx": figures["non2xx"],
        "errors": figures["errors"],
        "new_groups": len(new_ids),
        "paged": len(latencies),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies) if latencies else float("nan"),
        "backlog": backlog,
        "drain": (drained_at - burst_end) if drained_at else None,
        # every 2xx is a stored event (the warm-up's 200 included), every new group paged
        # wrk counts only answers that arrived within the burst; requests still in flight at
        # its end may be stored too, so stored >= answered 2xx means nothing was lost
        "lost_events": max(0, accepted + OPEN_GROUPS - results["events"]),
        "unpaged": len(new_ids) - len(latencies),
        "duplicates": sum(n - 1 for n in per_incident.values() if n > 1),
        "parked": results["parked"],
    }


def describe(r: dict) -> list[str]:
    samples = r["backlog"]
    step = max(1, len(samples) // 12)
    curve = ", ".join(f"{t:.0f}s:{d}" for t, d in samples[::step])
    drain = f"{r['drain']:.1f} s" if r["drain"] is not None else "not drained in 180 s"
    return [
        f"{r['workers']} worker(s): accepted {r['accepted_rps']:.0f} req/s ({r['accepted']} in"
        f" {r['burst_seconds']:.0f} s, non-2xx {r['non2xx']}, errors {r['errors']}),"
        f" applied {r['applied_rps']:.0f} deliveries/s, ratio applied/accepted {r['ratio']:.2f}",
        f"  new groups: {r['new_groups']}, paged {r['paged']}; first 2xx -> page"
        f" p50 {r['p50']:.2f} s, p99 {r['p99']:.2f} s, max {r['max']:.2f} s",
        f"  backlog (s:pending): {curve}",
        f"  drain after the burst: {drain}; lost deliveries {r['lost_events']},"
        f" new groups never paged {r['unpaged']}, duplicate pages {r['duplicates']},"
        f" parked {r['parked']}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the burst")
    parser.add_argument("--workers", default="1,2", help="worker process counts, e.g. 1,2")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {machine()}; load avg {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)
    receiver = Receiver()
    runs = []
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            result = run_storm(workers, args.seconds, receiver)
            runs.append(result)
            for line in describe(result):
                print(line, flush=True)
    finally:
        receiver.close()
    load_after = os.getloadavg()
    lines = [line for r in runs for line in describe(r)]
    rows = "\n".join(
        f"| {r['workers']} | {r['accepted_rps']:.0f} | {r['applied_rps']:.0f} | **{r['ratio']:.2f}**"
        f" | {r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} s"
        f" | {r['drain']:.1f} s | {r['lost_events']} | {r['duplicates']} |"
        if r["drain"] is not None
        else f"| {r['workers']} | {r['accepted_rps']:.0f} | {r['applied_rps']:.0f} |"
        f" **{r['ratio']:.2f}** | {r['p50']:.2f} / {r['p99']:.2f} / {r['max']:.2f} s"
        f" | not drained | {r['lost_events']} | {r['duplicates']} |"
        for r in runs
    )
    write_doc_section(
        DOC,
        "bench-storm",
        f"""## make bench-storm

`python bench/storm.py --seconds {args.seconds}`: gunicorn (4 sync workers) takes Alertmanager
webhooks from wrk ({CONNECTIONS} connections, as fast as it answers) for {args.seconds} s: 90 %
repeats of {OPEN_GROUPS} open groups, 10 % new groups, spread over {SERVICES} services. N Celery
worker processes (all queues, concurrency 1 each) and a beat apply and page; a local receiver is
the L2 webhook channel of every service. Latency is from the new group's acceptance (its event's
`received_at`, committed before the 2xx) to the page at the receiver.

Machine: {machine()}, **shared** with seven other engineers' tests and benchmarks: load average
{load[0]:.1f} when the run started, {load_after[0]:.1f} when it ended, so every figure is a lower
bound (the receiver, wrk, gunicorn, workers and PostgreSQL share the same 2 cores).

| workers | accepted req/s | applied/s | applied/accepted | new group 2xx -> page p50 / p99 / max | drain | lost | duplicate pages |
| --- | --- | --- | --- | --- | --- | --- | --- |
{rows}

```
{chr(10).join(lines)}
```
""",
        title="Performance: alert storms",
    )


if __name__ == "__main__":
    main()
