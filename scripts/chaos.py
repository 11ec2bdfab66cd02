#!/usr/bin/env python
"""The chaos suite (issue 11): real processes, real crashes, loopback only, bounded in time.

    .venv/bin/python scripts/chaos.py            # make chaos: every scenario, full length
    .venv/bin/python scripts/chaos.py --short    # the CI form (tests/chaos runs it)
    .venv/bin/python scripts/chaos.py --only kill_web_after_commit,two_beats

Everything runs against servers this script starts and owns, so nothing shared is ever stopped:
a throwaway PostgreSQL cluster (initdb + pg_ctl on a free port, as the ``postgres`` user when
run as root), a private redis-server on a free port, a local SMTP sink on 127.0.0.1 that the
pages go to, and Vigil's own processes (gunicorn, Celery worker, Celery beat). Each scenario
prints one line of figures and a verdict; the exit status is 1 when any verdict is FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1) -> float | None:
    """Seconds until ``predicate()`` held, or None after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    return None


# --- servers this script owns ---------------------------------------------------------------


class PgCluster:
    """A throwaway PostgreSQL cluster on its own port and directory (never the shared one)."""

    def __init__(self):
        if PG_BIN is None:
            raise SystemExit("chaos needs PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-chaos-pg-"))
        self.data = self.dir / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/vigil"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-w", "-t", "30", "-o", options,
            "-l", str(self.dir / "log"), *extra,
        )  # fmt: skip

    def start(self) -> PgCluster:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._ctl("start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "vigil")
        return self

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A private redis-server (no persistence: a restart loses the broker's queue, on purpose)."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if wait_for(self._ping, 10) is None:
            raise RuntimeError("redis-server did not start")
        return self

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class SmtpSink:
    """A minimal SMTP server on 127.0.0.1 that records each message it accepts with 250.

    ``stall_first`` makes the first connection wait that many seconds before the greeting, so a
    worker can be killed while it holds a delivery and has sent nothing yet."""

    def __init__(self, stall_first: float = 0.0):
        self.messages: list[tuple[float, list[str], bytes]] = []
        self.connections = 0
        self.stall_first = stall_first
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink.lock:
                    sink.connections += 1
                    first = sink.connections == 1
                if first and sink.stall_first:
                    time.sleep(sink.stall_first)
                rcpts: list[str] = []
                try:
                    self.wfile.write(b"220 chaos-sink ESMTP\r\n")
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            return
                        verb = line[:4].upper()
                        if verb in (b"EHLO", b"HELO"):
                            self.wfile.write(b"250 chaos-sink\r\n")
                        elif verb == b"MAIL":
                            rcpts = []
                            self.wfile.write(b"250 OK\r\n")
                        elif verb == b"RCPT":
                            rcpts.append(line.decode().split(":", 1)[1].strip(" <>\r\n"))
                            self.wfile.write(b"250 OK\r\n")
                        elif verb == b"DATA":
                            self.wfile.write(b"354 go ahead\r\n")
                            body = b""
                            while not body.endswith(b"\r\n.\r\n"):
                                chunk = self.rfile.readline()
                                if not chunk:
                                    return  # the sender died mid-message: nothing accepted
                                body += chunk
                            with sink.lock:
                                sink.messages.append((time.monotonic(), rcpts, body))
                            self.wfile.write(b"250 accepted\r\n")
                        elif verb == b"QUIT":
                            self.wfile.write(b"221 bye\r\n")
                            return
                        else:
                            self.wfile.write(b"250 OK\r\n")
                except OSError:
                    return

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- Vigil's processes ----------------------------------------------------------------------


@dataclass
class Vigil:
    pg: PgCluster
    redis: RedisServer
    smtp: SmtpSink
    short: bool
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="vigil-chaos-")))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": self.pg.url,
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": self.redis.url,
            "DEBUG": "0",
            "SECRET_KEY": "chaos-" + "x" * 50,
            "VIGIL_DATA_DIR": str(self.data_dir),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "VIGIL_BASE_URL": f"http://127.0.0.1:{self.web_port}",
            "LOG_LEVEL": "ERROR",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.smtp.port),
            "EMAIL_TIMEOUT": "10",
            "PROBE_ALLOWED_NETWORKS": "127.0.0.1/32",
            # Short intervals so each scenario ends in seconds; the logic is the production one.
            "EVENTS_SWEEP_SECONDS": "1",
            "EVENTS_REDISPATCH_AFTER_SECONDS": "2",
            "EVENTS_RETRY_BASE_SECONDS": "1",
            "ONCALL_SWEEP_SECONDS": "2",
            "ONCALL_DELIVERY_LEASE_SECONDS": "10",
            "ONCALL_RETRY_BASE_SECONDS": "1",
            "INGEST_SWEEP_SECONDS": "2",
            "INGEST_RATE_LIMIT_PER_MINUTE": "100000",
            "ONCALL_AUDIT_SECONDS": "5",
            "ONCALL_AUDIT_GRACE_SECONDS": "5",
        }

    def python(self, code: str, *, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``code`` in a fresh Django process (stdout returned)."""
        prelude = "import django, json, os, sys, signal\ndjango.setup()\n"
        done = subprocess.run(
            [PYTHON, "-c", prelude + code], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if check and done.returncode:
            raise RuntimeError(f"chaos helper failed:\n{done.stdout}\n{done.stderr}")
        return done

    def query(self, code: str):
        """Evaluate ``code`` (an expression) in a Django process; JSON result."""
        out = self.python(f"print(json.dumps({code}, default=str))").stdout
        return json.loads(out.strip().splitlines()[-1])

    def migrate(self) -> None:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT, env=self.env, check=True,
        )  # fmt: skip

    def start(self, name: str, kind: str) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 (lives with the process)
        if kind == "web":
            cmd = [PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
                   "--workers", "2", "--timeout", "30", "--log-level", "warning",
                   "--control-socket", str(self.data_dir / f"{name}.ctl")]  # fmt: skip
        elif kind == "worker":
            cmd = [PYTHON, "-m", "celery", "-A", "config", "worker", "-Q",
                   "ingest,probes,notify,default", "-P", "threads", "-c", "4", "-n",
                   f"{name}@%h", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]  # fmt: skip
        elif kind == "beat":
            cmd = [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "WARNING",
                   "--schedule", str(self.data_dir / f"{name}-schedule")]  # fmt: skip
        else:
            raise ValueError(kind)
        process = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.processes[name] = process
        if kind == "web" and wait_for(self.web_ready, 90, 0.2) is None:
            raise RuntimeError("gunicorn did not come up")
        return process

    def web_ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}/healthz", timeout=1
            ) as resp:
                return resp.status == 200
        except OSError:
            return False

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name, None)
        if process and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def close(self) -> None:
        self.stop_all()
        shutil.rmtree(self.data_dir, ignore_errors=True)


SETUP = """
from accounts.models import Team, User
from incidents.actors import Actor
from incidents.ingest.services import create_integration
from incidents.models import Service
from oncall.models import EscalationLevel, EscalationPolicy
team, _ = Team.objects.get_or_create(slug="chaos", defaults={"name": "Chaos"})
service, _ = Service.objects.get_or_create(slug="chaos-avatar", defaults={"name": "Chaos avatar", "team": team})
user, _ = User.objects.get_or_create(username="oncall", defaults={"email": "oncall@chaos.test"})
rules = {str(s): {"start": 2, "stop": 2, "inform": []} for s in range(1, 6)}
policy, created = EscalationPolicy.objects.get_or_create(
    team=team, name="Chaos", defaults={"is_team_default": True, "severity_rules": rules,
                                       "repeat_last_level": 0})
if created:
    level = EscalationLevel.objects.create(policy=policy, number=2, timeout_minutes=60)
    level.users.add(user)
integration, token = create_integration(service=service, kind="generic", name=f"chaos {os.getpid()}",
                                        actor=Actor.system("chaos"))
print(json.dumps({"service_id": service.pk, "token": token}))
"""

# Opens one incident through the real service and dies with SIGKILL in the first after-commit
# callback, i.e. after the commit and before the in-process dispatch of its events.
OPEN_AND_DIE = """
from django.db import transaction
from incidents import services
from incidents.actors import Actor
from incidents.models import Service
service = Service.objects.get(slug="chaos-avatar")
with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    incident, _ = services.open_incident(service=service, title=TITLE, severity=4,
                                         actor=Actor.system("chaos"), dedup_key=TITLE)
print("still alive?")
"""

# Opens one incident while the escalation receiver raises once in this process.
OPEN_WITH_FLAKY_RECEIVER = """
import oncall.escalation
from django.db import OperationalError
from incidents import services
from incidents.actors import Actor
from incidents.models import EventDispatch, Service
real, calls = oncall.escalation.start_escalation, []
def flaky(**kwargs):
    calls.append(1)
    if len(calls) == 1:
        raise OperationalError("chaos: injected failure")
    return real(**kwargs)
oncall.escalation.start_escalation = flaky
service = Service.objects.get(slug="chaos-avatar")
incident, _ = services.open_incident(service=service, title=TITLE, severity=4,
                                     actor=Actor.system("chaos"), dedup_key=TITLE)
row = EventDispatch.objects.get(entry__incident=incident, receiver="oncall.receivers.on_opened")
print(json.dumps({"incident": incident.pk, "attempts": row.attempts, "dispatched": bool(row.dispatched_at)}))
"""

# Opens incidents whose events are left entirely to the sweep (in-process dispatch disabled).
OPEN_UNDISPATCHED = """
import incidents.outbox
incidents.outbox.dispatch_rows = lambda ids: 0
from incidents import services
from incidents.actors import Actor
from incidents.models import Service
service = Service.objects.get(slug="chaos-avatar")
ids = []
for n in range(COUNT):
    incident, _ = services.open_incident(service=service, title=f"{PREFIX} {n}", severity=4,
                                         actor=Actor.system("chaos"), dedup_key=f"{PREFIX}-{n}")
    ids.append(incident.pk)
print(json.dumps(ids))
"""


def pages_for(vigil: Vigil, prefix: str) -> int:
    return sum(1 for _, _, body in list(vigil.smtp.messages) if prefix.encode() in body)


# --- scenarios --------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    ok: bool
    figures: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.figures}"


def kill_web_after_commit(vigil: Vigil) -> Outcome:
    """kill -9 the process right after its incident committed: the page still goes out."""
    title = f"chaos-kill-web-{time.time_ns()}"
    done = vigil.python(f"TITLE = {title!r}\n" + OPEN_AND_DIE, check=False)
    died = done.returncode == -signal.SIGKILL and "still alive" not in done.stdout
    took = wait_for(lambda: pages_for(vigil, title) >= 1, 30)
    time.sleep(3)  # anything duplicated would arrive by now
    pages = pages_for(vigil, title)
    lag = timeline_lag(vigil, title)
    ok = died and took is not None and pages == 1
    return Outcome(
        "kill -9 after commit",
        ok,
        f"process killed by SIGKILL={died}; page delivered {took and round(took, 1)} s after the "
        f"kill (sweep every 1 s, due 2 s after commit; {lag}); pages={pages} (want 1)",
    )


def timeline_lag(vigil: Vigil, title: str) -> str:
    """Seconds from the commit to the sweep's dispatch and to the page's delivery."""
    facts = vigil.query(
        "(lambda M, O: (lambda i: {"
        "'dispatched': max((d - i.triggered_at).total_seconds() for d in M.EventDispatch.objects"
        ".filter(entry__incident=i).values_list('dispatched_at', flat=True) if d),"
        "'sent': max((s - i.triggered_at).total_seconds() for s in O.Notification.objects"
        ".filter(incident=i).values_list('sent_at', flat=True) if s)})"
        f"(M.Incident.objects.get(title={title!r})))"
        "(__import__('incidents.models', fromlist=['x']), __import__('oncall.models', fromlist=['x']))"
    )
    return f"dispatched {facts['dispatched']:.1f} s and sent {facts['sent']:.1f} s after commit"


def receiver_raises_once(vigil: Vigil) -> Outcome:
    title = f"chaos-flaky-{time.time_ns()}"
    result = json.loads(vigil.python(f"TITLE = {title!r}\n" + OPEN_WITH_FLAKY_RECEIVER).stdout)
    took = wait_for(lambda: pages_for(vigil, title) >= 1, 30)
    time.sleep(3)
    pages = pages_for(vigil, title)
    row = vigil.query(
        "list(__import__('incidents.models', fromlist=['x']).EventDispatch.objects.filter("
        f"entry__incident_id={result['incident']}, receiver='oncall.receivers.on_opened')"
        ".values_list('attempts', flat=True))"
    )
    ok = result["attempts"] == 1 and not result["dispatched"] and took is not None and pages == 1
    return Outcome(
        "receiver raises once",
        ok,
        f"first attempt failed in-process, retried by the sweep: {timeline_lag(vigil, title)}; "
        f"attempts={row} (want [2]) pages={pages} (want 1)",
    )


def post_alert(vigil: Vigil, token: str, key: str, timeout: float = 5) -> int:
    body = json.dumps({"title": f"chaos alert {key}", "dedup_key": key, "severity": 2,
                       "status": "firing"}).encode()  # fmt: skip
    request = urllib.request.Request(
        f"http://127.0.0.1:{vigil.web_port}/hooks/generic/{token}",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # connection refused / reset / timeout: not answered


def load(vigil: Vigil, token: str, prefix: str, stop: threading.Event, rate: float, log: list):
    """Post alerts with unique keys at about ``rate`` per second until ``stop``."""
    n = 0
    while not stop.is_set():
        key = f"{prefix}-{n}"
        at = time.monotonic()
        log.append((at, key, post_alert(vigil, token, key)))
        n += 1
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - at)))


def alerts_stored(vigil: Vigil, prefix: str) -> set[str]:
    """The alert keys (generic integration: incident key "gen:<dedup_key>") that have incidents."""
    keys = vigil.query(
        "list(__import__('incidents.models', fromlist=['x']).Incident.objects.filter("
        f"dedup_key__startswith={'gen:' + prefix + '-'!r}).values_list('dedup_key', flat=True))"
    )
    return {key.removeprefix("gen:") for key in keys}


def redis_down_during_ingest(vigil: Vigil, token: str) -> Outcome:
    prefix = f"chaos-redis-{time.time_ns()}"
    log: list = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=load, args=(vigil, token, f"{prefix}{i}", stop, 10, log))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(2 if vigil.short else 5)
    vigil.redis.stop()
    down = 3 if vigil.short else 10
    time.sleep(down)
    vigil.redis.start()
    time.sleep(2 if vigil.short else 5)
    stop.set()
    for thread in threads:
        thread.join()
    accepted = {key for _, key, status in log if 200 <= status < 300}
    statuses: dict[int, int] = {}
    for _, _, status in log:
        statuses[status] = statuses.get(status, 0) + 1
    expected = {key.rsplit("-", 1)[0] for key in accepted}

    def stored() -> set[str]:
        return set().union(*(alerts_stored(vigil, p) for p in expected)) if expected else set()

    took = wait_for(lambda: accepted <= stored(), 60, 1.0)
    stored_keys = stored()
    lost = accepted - stored_keys
    ok = not lost and statuses.get(500, 0) == 0 and accepted
    return Outcome(
        "Redis stopped during ingest",
        bool(ok),
        f"{len(log)} posts, statuses {dict(sorted(statuses.items()))}, Redis down {down} s; "
        f"2xx answered {len(accepted)}, incidents opened for them {len(accepted & stored_keys)}, "
        f"lost {len(lost)} (want 0); all applied {took and round(took, 1)} s after the load ended",
    )


def postgres_restart_under_load(vigil: Vigil, token: str) -> Outcome:
    prefix = f"chaos-pg-{time.time_ns()}"
    log: list = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=load, args=(vigil, token, f"{prefix}{i}", stop, 10, log))
        for i in range(2)
    ]
    for thread in threads:
        thread.start()
    time.sleep(2 if vigil.short else 5)
    restart_began = time.monotonic()
    vigil.pg.restart()
    back_up = time.monotonic()
    time.sleep(6 if vigil.short else 10)
    stop.set()
    for thread in threads:
        thread.join()
    statuses: dict[int, int] = {}
    for _, _, status in log:
        statuses[status] = statuses.get(status, 0) + 1
    bad = {s: n for s, n in statuses.items() if s not in (202, 503)}
    after = [(at, status) for at, _, status in log if at >= restart_began]
    first_ok_again = next((at for at, status in after if status == 202 and at >= back_up), None)
    recovery = None if first_ok_again is None else round(first_ok_again - back_up, 2)
    accepted = {key for _, key, status in log if status == 202}
    expected = {key.rsplit("-", 1)[0] for key in accepted}
    wait_for(lambda: accepted <= set().union(*(alerts_stored(vigil, p) for p in expected)), 40, 1.0)
    lost = accepted - set().union(*(alerts_stored(vigil, p) for p in expected))
    ok = not bad and recovery is not None and recovery <= 5 and not lost
    return Outcome(
        "PostgreSQL restarted under load",
        ok,
        f"{len(log)} posts, statuses {dict(sorted(statuses.items()))} (want only 202/503); "
        f"restart took {round(back_up - restart_began, 2)} s; 202 again {recovery} s after the "
        f"server was back (want <= 5); accepted {len(accepted)}, lost {len(lost)}",
    )


def two_beats(vigil: Vigil) -> Outcome:
    """Two beats (and two workers) at once: every periodic task runs twice; nothing doubles."""
    vigil.start("beat2", "beat")
    vigil.start("worker2", "worker")
    prefix = f"chaos-beats-{time.time_ns()}"
    duration = 20 if vigil.short else 120
    count = 8 if vigil.short else 20
    started = time.monotonic()
    opened: list[int] = []
    while time.monotonic() - started < duration:
        batch = f"{prefix}-{len(opened)}"
        opened += json.loads(
            vigil.python(f"COUNT = {count}\nPREFIX = {batch!r}\n" + OPEN_UNDISPATCHED).stdout
        )
        time.sleep(max(0.0, min(duration / 4, duration - (time.monotonic() - started))))
    wait_for(lambda: pages_for(vigil, prefix) >= len(opened), 30, 0.5)
    time.sleep(4)
    vigil.kill("beat2", signal.SIGTERM)
    vigil.kill("worker2", signal.SIGTERM)
    pages = pages_for(vigil, prefix)
    facts = vigil.query(
        "(lambda M, O: {"
        f"'states': O.EscalationState.objects.filter(incident_id__in={opened}).count(),"
        f"'levels': M.TimelineEntry.objects.filter(incident_id__in={opened}, kind='escalation_level').count(),"
        f"'notifications': O.Notification.objects.filter(incident_id__in={opened}).count(),"
        f"'attempts': sorted(set(M.EventDispatch.objects.filter(entry__incident_id__in={opened}).values_list('attempts', flat=True))),"
        f"'pending': M.EventDispatch.objects.filter(entry__incident_id__in={opened}, dispatched_at=None).count(),"
        "})(__import__('incidents.models', fromlist=['x']), __import__('oncall.models', fromlist=['x']))"
    )  # fmt: skip
    n = len(opened)
    ok = (
        pages == n
        and facts["states"] == n
        and facts["levels"] == n
        and facts["notifications"] == n
        and facts["attempts"] == [1]
        and facts["pending"] == 0
    )
    return Outcome(
        "two beats",
        ok,
        f"{duration} s with two beats and two workers; {n} incidents left to the sweeps; "
        f"pages {pages}, escalations {facts['states']}, level entries {facts['levels']}, "
        f"notifications {facts['notifications']} (want {n} each); dispatch attempts per row "
        f"{facts['attempts']} (want [1]), pending {facts['pending']}",
    )


def kill_worker_holding_delivery(vigil: Vigil) -> Outcome:
    """The SMTP sink stalls its first greeting; the worker that claimed the page is killed."""
    vigil.smtp.stall_first = 6.0
    vigil.smtp.connections = 0
    title = f"chaos-kill-worker-{time.time_ns()}"
    vigil.python(
        "from incidents import services\nfrom incidents.actors import Actor\n"
        "from incidents.models import Service\n"
        "services.open_incident(service=Service.objects.get(slug='chaos-avatar'), "
        f"title={title!r}, severity=4, actor=Actor.system('chaos'), dedup_key={title!r})\n"
    )
    holding = wait_for(lambda: vigil.smtp.connections >= 1, 20)
    vigil.kill("worker", signal.SIGKILL)
    state = vigil.query(
        "list(__import__('oncall.models', fromlist=['x']).Notification.objects.filter("
        f"incident__title={title!r}).values_list('status', flat=True))"
    )
    vigil.start("worker", "worker")
    took = wait_for(lambda: pages_for(vigil, title) >= 1, 40, 0.5)
    time.sleep(4)
    pages = pages_for(vigil, title)
    final = vigil.query(
        "list(__import__('oncall.models', fromlist=['x']).Notification.objects.filter("
        f"incident__title={title!r}).values_list('status', 'attempts'))"
    )
    vigil.smtp.stall_first = 0.0
    ok = holding is not None and state == ["sending"] and pages == 1
    return Outcome(
        "kill a worker holding a delivery",
        ok,
        f"worker killed while the page was {state}; delivered {took and round(took, 1)} s after "
        f"the kill (10 s lease, then the oncall sweep; includes the new worker's start); "
        f"pages={pages} (want 1); rows (status, attempts) {final}",
    )


SCENARIOS = {
    "kill_web_after_commit": kill_web_after_commit,
    "receiver_raises_once": receiver_raises_once,
    "two_beats": two_beats,
    "kill_worker_holding_delivery": kill_worker_holding_delivery,
    "redis_down_during_ingest": redis_down_during_ingest,
    "postgres_restart_under_load": postgres_restart_under_load,
}


def run(short: bool, only: list[str] | None = None) -> list[Outcome]:
    names = only or list(SCENARIOS)
    pg, redis, smtp = PgCluster(), RedisServer(), SmtpSink()
    vigil = None
    outcomes: list[Outcome] = []
    try:
        pg.start()
        redis.start()
        vigil = Vigil(pg=pg, redis=redis, smtp=smtp, short=short)
        vigil.migrate()
        token = json.loads(vigil.python(SETUP).stdout.strip().splitlines()[-1])["token"]
        vigil.start("web", "web")
        vigil.start("worker", "worker")
        vigil.start("beat", "beat")
        warm = time.monotonic()
        vigil.python("COUNT = 1\nPREFIX = 'chaos-warm-up'\n" + OPEN_UNDISPATCHED)
        if wait_for(lambda: pages_for(vigil, "chaos-warm-up") >= 1, 90, 0.5) is None:
            raise RuntimeError("worker and beat did not page the warm-up incident within 90 s")
        print(f"setup: worker and beat live, warm-up page after {time.monotonic() - warm:.1f} s")
        for name in names:
            scenario = SCENARIOS[name]
            try:
                needs_token = (
                    "token" in scenario.__code__.co_varnames[: scenario.__code__.co_argcount]
                )
                outcome = scenario(vigil, token) if needs_token else scenario(vigil)
            except Exception as exc:  # report and go on with the next scenario
                outcome = Outcome(name, False, f"crashed: {exc.__class__.__name__}: {exc}")
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
    finally:
        if vigil is not None:
            vigil.close()
        redis.stop()
        pg.stop()
        smtp.close()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI form: fewer seconds")
    parser.add_argument("--only", help="comma-separated scenario names: " + ", ".join(SCENARIOS))
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    for name in only or []:
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    started = time.monotonic()
    outcomes = run(args.short, only)
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)}/{len(outcomes)} scenarios passed in "
          f"{round(time.monotonic() - started)} s")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
