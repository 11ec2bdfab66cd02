"""Benchmark of /monitors/ with 10,000 probes (`make bench-monitors`).

Loads 10,000 probes over 100 services of one team, 1,000 heartbeats, and 24 results per probe in
the last 24 hours (240,000 rows) with generate_series into vigil_bench_monitors (reused when
present). Measures the server time in-process (Django handler, DEBUG off) of the overview's first
and a deep page, a state filter, a text search and one probe page; then over HTTP with wrk at one
connection beside the bare one-INSERT baseline view of bench/harness.py in the same run.
Budget (issue 16): p95 < 200 ms server time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BenchServer, machine, wrk  # noqa: E402

PROBES = 10_000
SERVICES = 100
HEARTBEATS = 1_000
RESULTS_PER_PROBE = 24

LOAD = f"""
import time
from django.db import connection, transaction
from accounts.models import Membership, Role, Team, User
from monitoring.models import Probe

started = time.monotonic()
if Probe.objects.count() < {PROBES}:
    with transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE monitoring_proberesult, monitoring_probe, monitoring_heartbeat, "
                  "incidents_service CASCADE")
        c.execute("DELETE FROM accounts_membership; DELETE FROM accounts_team")
        team = Team.objects.create(name="Bench monitors", slug="bench-monitors")
        c.execute('''
            INSERT INTO incidents_service (team_id, name, slug, description, rto_minutes,
                rpo_minutes, downtime_cost_per_hour, created_at)
            SELECT %s, 'Service ' || s, 'bench-svc-' || s, '', 60, 15, 500, now()
            FROM generate_series(1, {SERVICES}) s''', [team.pk])
        c.execute('''
            INSERT INTO monitoring_probe (service_id, name, method, url, headers, body,
                expected_status, expected_text, expected_json_path, expected_json_value,
                timeout_seconds, interval_seconds, latency_threshold_ms, failures_to_open,
                successes_to_recover, severity_down, severity_degraded, paused, state,
                consecutive_failures, consecutive_slow, consecutive_successes, next_due_at,
                last_checked_at, last_latency_ms, last_error, created_at)
            SELECT (SELECT id FROM incidents_service ORDER BY id OFFSET (g % {SERVICES}) LIMIT 1),
                   'probe ' || g, 'GET', 'https://avatar-' || g || '.example.com/health', '{{}}',
                   '', '200-299', '', '', '', 5, 60, 3000, 2, 2, 4, 2, true,
                   CASE WHEN g % 50 = 0 THEN 'down' ELSE 'up' END, 0, 0, 0, now(), now(),
                   100 + g % 400, '', now()
            FROM generate_series(1, {PROBES}) g''')
        c.execute('''
            INSERT INTO monitoring_proberesult (probe_id, at, ok, latency_ms, status_code, error,
                message)
            SELECT p.id, now() - (h * interval '1 hour') - (p.id % 3600) * interval '1 second',
                   (p.id + h) % 40 <> 0, 50 + (p.id * 7 + h * 13) % 900, 200,
                   CASE WHEN (p.id + h) % 40 = 0 THEN 'status' ELSE '' END, ''
            FROM monitoring_probe p CROSS JOIN generate_series(0, {RESULTS_PER_PROBE - 1}) h''')
        c.execute('''
            INSERT INTO monitoring_heartbeat (service_id, name, uuid, period_seconds, grace_seconds,
                severity, state, ping_count, created_at)
            SELECT (SELECT id FROM incidents_service ORDER BY id OFFSET (g % {SERVICES}) LIMIT 1),
                   'job ' || g, gen_random_uuid(), 3600, 600, 4, 'new', 0, now()
            FROM generate_series(1, {HEARTBEATS}) g''')
    with connection.cursor() as c:
        for table in ("incidents_service", "monitoring_probe", "monitoring_proberesult",
                      "monitoring_heartbeat"):
            c.execute(f"VACUUM ANALYZE {{table}}")
user, _ = User.objects.get_or_create(username="bench-monitors")
user.set_password("bench-monitors-password")
user.save()
Membership.objects.get_or_create(user=user, team=Team.objects.get(slug="bench-monitors"),
                                 defaults={{"role": Role.VIEWER}})
print("LOADSECONDS", round(time.monotonic() - started, 1))
"""

PREPARE = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
from monitoring.models import Probe, ProbeResult

user = User.objects.get(username="bench-monitors")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
probe = Probe.objects.order_by("pk").first()
print("PREPARED " + json.dumps({"session": session.session_key, "probe": probe.pk,
      "probes": Probe.objects.count(), "results": ProbeResult.objects.count()}))
"""

IN_PROCESS = """
import json, statistics, time
from django.test import Client
from accounts.models import User

paths = json.loads(PATHS)
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.get(username="bench-monitors"))
out = {}
for label, url in paths:
    for _ in range(3):
        client.get(url)
    times = []
    for n in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    out[label] = [statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]]
print("INPROCESS " + json.dumps(out))
"""


def _tagged(output: str, tag: str) -> str:
    for line in output.splitlines():
        if line.startswith(tag + " "):
            return line[len(tag) + 1 :]
    raise RuntimeError(f"no {tag} line in:\n{output}")


def main() -> None:
    with BenchServer(name="monitors", workers=2) as server:
        started = time.monotonic()
        loaded = server.shell(LOAD)
        print(f"data ready in {time.monotonic() - started:.1f} s "
              f"(load step {_tagged(loaded, 'LOADSECONDS')} s; 0 means reused)")  # fmt: skip
        prep = json.loads(_tagged(server.shell(PREPARE), "PREPARED"))
        print(f"{prep['probes']:,} probes, {prep['results']:,} results in the last 24 h")
        paths = [
            ("overview, page 1", "/monitors/"),
            ("overview, page 200 (last)", "/monitors/?page=200"),
            ("overview, state=down", "/monitors/?state=down"),
            ("overview, search", "/monitors/?q=probe+4242"),
            ("overview, page 2", "/monitors/?page=2"),
            ("probe page", f"/monitors/probes/{prep['probe']}/"),
        ]
        code = IN_PROCESS.replace("PATHS", repr(json.dumps(paths))).replace("REQUESTS", "60")
        figures = json.loads(_tagged(server.shell(code), "INPROCESS"))
        print(f"\nmachine: {machine()}; shared with other engineers' work during this run")
        print("\nserver time in-process (Django handler, DEBUG off, 60 requests each):")
        for label, (p50, p95, worst) in figures.items():
            print(f"{label:<30} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {worst:6.1f} ms")
        cookie = {"Cookie": f"sessionid={prep['session']}"}
        print("\nover HTTP (gunicorn, 2 sync workers; wrk 1 connection, 10 s each):")
        base = wrk(server.url + "/bench/insert", connections=1, duration=10, method="POST",
                   bodies=[b"{}"], threads=1)  # fmt: skip
        print(base.line("baseline: bare one-INSERT view"))
        page = wrk(server.url + "/monitors/", connections=1, duration=10, headers=cookie,
                   threads=1)  # fmt: skip
        print(page.line("/monitors/ page 1"))
        print(f"\np95 ratio /monitors/ : baseline = {page.p95_ms / base.p95_ms:.1f}x")
        worst = max((p95, label) for label, (_p50, p95, _m) in figures.items())
        print(f"worst in-process p95: {worst[0]:.1f} ms ({worst[1]}); budget 200 ms")


if __name__ == "__main__":
    main()
