"""Benchmark of the triage UI: board and incident room with 100,000 incidents and 1,000,000
timeline entries in PostgreSQL (`make bench-ui`).

Loads the data once with generate_series SQL into vigil_bench_ui (reused when present), starts
the production-like gunicorn of bench/harness.py and measures with wrk:
- one connection: the latency is the server time plus a loopback round trip (p95 is the budget);
- four connections: throughput on this machine.
The bare one-INSERT view of the harness runs in the same run as the baseline, in-process and
over HTTP, and every page's p95 is printed as a ratio to the bare view's p95: the budget can be
judged on any machine (goal: board and room <= 15x, text search <= 25x).

BENCH_UI_NAME (default "ui") names the database (vigil_bench_<name>): engineers sharing a
PostgreSQL server run their branches against separate copies.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BenchServer, machine, wrk  # noqa: E402

INCIDENTS = 100_000
ENTRIES_PER_INCIDENT = 10
NAME = os.environ.get("BENCH_UI_NAME", "ui")
# The goal per page, as a multiple of the bare view's p95 in the same run (issue 17).
GOALS = {"board": 15, "room": 15, "search": 25}
TEAMS = 10  # the bench user's team holds half of all incidents, the worst case for its board
SERVICES_PER_TEAM = 10

LOAD = f"""
import time
from django.db import connection, transaction
from accounts.models import Membership, Role, Team, User
from incidents.models import Incident

started = time.monotonic()
if Incident.objects.filter(team__slug="bench-ui").count() < {INCIDENTS} // 2:
    with transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE incidents_timelineentry, incidents_incident, incidents_service CASCADE")
        c.execute("DELETE FROM accounts_membership; DELETE FROM accounts_team")
        teams = [Team.objects.create(name="Bench UI" if n == 0 else f"Other {{n}}",
                                     slug="bench-ui" if n == 0 else f"bench-other-{{n}}")
                 for n in range({TEAMS})]
        c.execute('''
            INSERT INTO incidents_service (team_id, name, slug, description, rto_minutes,
                rpo_minutes, downtime_cost_per_hour, created_at)
            SELECT t.id, 'Service ' || s, t.slug || '-svc-' || s, '', 60, 15, 500, now()
            FROM accounts_team t CROSS JOIN generate_series(1, {SERVICES_PER_TEAM}) s''')
        # Half the incidents in the bench team, the rest spread over the others; one in 500
        # still open (a busy board), the rest resolved, over the last year.
        c.execute('''
            WITH teams AS (SELECT id, row_number() OVER (ORDER BY slug <> 'bench-ui', id) - 1 AS n
                           FROM accounts_team),
                 rows AS (SELECT g,
                                 CASE WHEN g % 2 = 0 THEN 0 ELSE 1 + g % ({TEAMS} - 1) END AS team_n,
                                 now() - (g * interval '315 seconds') AS at
                          FROM generate_series(1, {INCIDENTS}) g)
            INSERT INTO incidents_incident (team_id, service_id, title, summary, severity, status,
                dedup_key, source, is_drill, triggered_at, acknowledged_at, resolved_at,
                resolution_note, reopen_count, repeat_count, last_seen_at, updated_at)
            SELECT t.id,
                   (SELECT s.id FROM incidents_service s WHERE s.team_id = t.id
                    ORDER BY s.id OFFSET (r.g % {SERVICES_PER_TEAM}) LIMIT 1),
                   'Model endpoint ' || (r.g % 97) || ' returns errors for request batch ' || r.g,
                   'Synthetic incident for the UI benchmark', 1 + r.g % 5,
                   CASE WHEN r.g % 500 = 0 THEN 'triggered' ELSE 'resolved' END,
                   '', 'integration', false, r.at,
                   CASE WHEN r.g % 500 = 0 THEN NULL ELSE r.at + interval '3 minutes' END,
                   CASE WHEN r.g % 500 = 0 THEN NULL ELSE r.at + interval '40 minutes' END,
                   '', 0, 0, r.at, r.at + interval '40 minutes'
            FROM rows r JOIN teams t ON t.n = r.team_n''')
        c.execute('''
            INSERT INTO incidents_timelineentry (incident_id, at, kind, actor_kind, actor_label,
                message, data)
            SELECT i.id, i.triggered_at + (e * interval '4 minutes'),
                   CASE WHEN e = 0 THEN 'opened' ELSE 'note' END, 'system', 'bench',
                   'Timeline entry ' || e || ' of ' || i.title, '{{}}'::jsonb
            FROM incidents_incident i CROSS JOIN generate_series(0, {ENTRIES_PER_INCIDENT - 1}) e''')
    with connection.cursor() as c:
        # What autovacuum does in production soon after a load: statistics and visibility map.
        c.execute("VACUUM ANALYZE incidents_incident")
        c.execute("VACUUM ANALYZE incidents_timelineentry")
user, _ = User.objects.get_or_create(username="bench-ui")
user.set_password("bench-ui-password")
user.save()
Membership.objects.get_or_create(user=user, team=Team.objects.get(slug="bench-ui"),
                                 defaults={{"role": Role.RESPONDER}})
print("LOADSECONDS", round(time.monotonic() - started, 1))
"""

PREPARE = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
from accounts.permissions import team_ids_of
from incidents.board import board_version
from incidents.models import Incident, TimelineEntry
from incidents.views.room import current_room_version

user = User.objects.get(username="bench-ui")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
team_ids = team_ids_of(user)
rooms = list(Incident.objects.filter(team_id__in=team_ids).order_by("?")
             .values_list("pk", flat=True)[:200])
room_polls = []
for pk in rooms[:50]:
    incident = Incident.objects.get(pk=pk)
    room_polls.append(f"/incidents/{pk}/?v={current_room_version(incident)}")
print("PREPARED " + json.dumps({
    "session": session.session_key,
    "version": board_version(team_ids),
    "rooms": [f"/incidents/{pk}/" for pk in rooms],
    "room_polls": room_polls,
    "incidents": Incident.objects.count(),
    "entries": TimelineEntry.objects.count(),
    "team_incidents": Incident.objects.filter(team_id__in=team_ids).count(),
}))
"""


# Server time in-process: Django's handler without network or gunicorn, DEBUG off, many
# requests per page; the figure the budget names ("p95 server time").
IN_PROCESS = """
import json, statistics, time
from django.test import Client
from accounts.models import User
from incidents.models import Incident

paths = json.loads(PATHS)
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(User.objects.get(username="bench-ui"))
out = {}
times = []
for n in range(REQUESTS + 5):
    started = time.perf_counter()
    response = client.post("/bench/insert", b"{}", content_type="application/json")
    if n >= 5:
        times.append((time.perf_counter() - started) * 1000)
    assert response.status_code == 200, response.status_code
times.sort()
out["baseline: bare one-INSERT view"] = [statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]]
for label, urls, headers in paths:
    for url in urls[:5]:
        client.get(url, **headers)  # warm caches and the connection
    times = []
    for n in range(REQUESTS):
        url = urls[n % len(urls)]
        started = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 204), (url, response.status_code)
    times.sort()
    out[label] = [statistics.median(times), times[int(len(times) * 0.95) - 1], times[-1]]
print("INPROCESS " + json.dumps(out))
"""


def goal_of(label: str) -> int | None:
    if label.startswith("baseline") or "poll" in label:
        return None
    if "search" in label:
        return GOALS["search"]
    return GOALS["room"] if label.startswith("incident room") else GOALS["board"]


def ratio_text(label: str, p95: float, baseline_p95: float) -> str:
    """``12.3x`` of the bare view's p95, with the goal and whether it is met."""
    if label.startswith("baseline") or not baseline_p95:
        return ""
    ratio = p95 / baseline_p95
    goal = goal_of(label)
    if goal is None:
        return f"{ratio:6.1f}x"
    return f"{ratio:6.1f}x  (goal <= {goal}x: {'met' if ratio <= goal else 'NOT met'})"


def warm_up(scenarios, *, workers: int) -> None:
    """A few requests per page before wrk measures: each gunicorn worker compiles templates and
    imports views on its first requests, which is start-up, not the page's cost."""
    import urllib.request

    for _label, url, paths, headers, method in scenarios:
        for n in range(workers * 3):
            target = url if not paths else url.rstrip("/") + paths[n % len(paths)]
            data = b"{}" if method == "POST" else None
            request = urllib.request.Request(target, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    response.read()
            except OSError:
                pass  # the measurement reports errors; warming only needs to try


def _tagged(output: str, tag: str) -> str:
    for line in output.splitlines():
        if line.startswith(tag + " "):
            return line[len(tag) + 1 :]
    raise RuntimeError(f"no {tag} line in:\n{output}")


def main() -> None:
    with BenchServer(name=NAME, startup_timeout=120) as server:
        started = time.monotonic()
        loaded = server.shell(LOAD)
        print(f"data ready in {time.monotonic() - started:.1f} s "
              f"(load step {_tagged(loaded, 'LOADSECONDS')} s; 0 means reused)")  # fmt: skip
        prep = json.loads(_tagged(server.shell(PREPARE), "PREPARED"))
        print(
            f"{prep['incidents']:,} incidents, {prep['entries']:,} timeline entries; "
            f"the bench user's team holds {prep['team_incidents']:,}"
        )
        cookie = {"Cookie": f"sessionid={prep['session']}"}
        htmx = {**cookie, "HX-Request": "true"}
        base = server.url
        scenarios = [
            ("baseline: bare one-INSERT view", base + "/bench/insert", None, {}, "POST"),
            ("board, open incidents (default)", base + "/incidents/", None, cookie, "GET"),
            ("board, all statuses, page 1", base + "/incidents/?status=all", None, cookie, "GET"),
            (
                "board, all, by severity, page 40",
                base + "/incidents/?status=all&sort=severity&page=40",
                None,
                cookie,
                "GET",
            ),
            ("board, last 7 days, all", base + "/incidents/?status=all&window=7d", None, cookie, "GET"),
            ("board, text search", base + "/incidents/?status=all&q=batch+4242", None, cookie, "GET"),
            ("board, open, text search", base + "/incidents/?q=endpoint+42", None, cookie, "GET"),
            ("board live poll, unchanged (204)", base + f"/incidents/?v={prep['version']}", None, htmx, "GET"),
            ("incident room (200 rooms)", base + "/", prep["rooms"], cookie, "GET"),
            ("room live poll, unchanged (204)", base + "/", prep["room_polls"], htmx, "GET"),
        ]  # fmt: skip
        htmx_meta = {"HTTP_HX_REQUEST": "true"}
        in_process = [
            ("board, open incidents (default)", ["/incidents/"], {}),
            ("board, all statuses, page 1", ["/incidents/?status=all"], {}),
            ("board, all, by severity, page 40", ["/incidents/?status=all&sort=severity&page=40"], {}),
            ("board, last 7 days, all", ["/incidents/?status=all&window=7d"], {}),
            ("board, text search", ["/incidents/?status=all&q=batch+4242"], {}),
            ("board, open, text search", ["/incidents/?q=endpoint+42"], {}),
            ("board live poll, unchanged (204)", [f"/incidents/?v={prep['version']}"], htmx_meta),
            ("incident room (200 rooms)", prep["rooms"], {}),
            ("room live poll, unchanged (204)", prep["room_polls"], htmx_meta),
        ]  # fmt: skip
        code = IN_PROCESS.replace("PATHS", repr(json.dumps(in_process))).replace("REQUESTS", "200")
        figures = json.loads(_tagged(server.shell(code), "INPROCESS"))
        print(f"\nmachine: {machine()}; shared with other engineers' work during this run")
        print("\nserver time in-process (Django handler, DEBUG off, 200 requests each):")
        bare_p95 = figures["baseline: bare one-INSERT view"][1]
        for label, (p50, p95, worst) in figures.items():
            print(
                f"{label:<34} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {worst:6.1f} ms   "
                + ratio_text(label, p95, bare_p95)
            )
        print("\nover HTTP:")
        print("gunicorn sync workers: 4; wrk 1 connection (latency ~ server time), 10 s each\n")
        results = {}
        warm_up(scenarios, workers=server.workers)
        for label, url, paths, headers, method in scenarios:
            result = wrk(
                url, connections=1, duration=10, method=method, paths=paths, headers=headers,
                threads=1, bodies=[b"{}"] if method == "POST" else None,
            )  # fmt: skip
            results[label] = result
            bare = results["baseline: bare one-INSERT view"].p95_ms
            print(result.line(label) + "   " + ratio_text(label, result.p95_ms, bare))
        print("\nfour connections (throughput):")
        for label in ("board, open incidents (default)", "incident room (200 rooms)"):
            _l, url, paths, headers, method = next(s for s in scenarios if s[0] == label)
            result = wrk(url, connections=4, duration=10, paths=paths, headers=headers)
            print(result.line(label + " x4"))
        worst = max(
            (r.p95_ms, label) for label, r in results.items() if not label.startswith("baseline")
        )
        print(f"\nworst p95 at one connection: {worst[0]:.1f} ms ({worst[1]}); budget 100 ms")
        print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
