"""Benchmark harness: a production-like gunicorn on PostgreSQL, a bare baseline view, and wrk.

    from bench.harness import BenchServer, wrk

    with BenchServer(name="ingest") as server:
        base = wrk(server.url + "/bench/insert", connections=16, duration=15, method="POST", bodies=[b"{}"])
        hook = wrk(server.url + "/hooks/...", connections=16, duration=15, method="POST", bodies=[...])
        print(hook.rps / base.rps)

The baseline and the measured endpoint run under the same server settings in the same run, so
their ratio holds even on a busy machine. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_database(name: str) -> str:
    import psycopg

    with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN_URL}/{name}"


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL
        )
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed for benchmarks: apt-get install wrk")
    return found


class BenchServer:
    def __init__(
        self,
        name: str,
        *,
        workers: int = 4,
        env: dict[str, str] | None = None,
        startup_seconds: float = 30,
    ):
        self.name = name
        self.workers = workers
        # How long gunicorn may take to answer /healthz (longer on a shared, loaded machine).
        self.startup_seconds = startup_seconds
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.gettempdir()) / f"vigil-bench-{name}"
        self.data_dir.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": _ensure_database(f"vigil_bench_{name}"),
            "DEBUG": "0",
            "SECRET_KEY": "bench-" + "x" * 50,
            "VIGIL_DATA_DIR": str(self.data_dir),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        self.env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "--no-imports", "-c", code)

    def __enter__(self) -> BenchServer:
        self.manage("migrate", "--noinput", "-v0")
        self.shell(
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            "    c.execute('CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY,"
            " at timestamptz NOT NULL DEFAULT now(), path text, body text)')\n"
        )
        self.process = subprocess.Popen(
            [
                PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers), "--worker-class", "sync", "--backlog", "2048",
                "--log-level", "warning",
            ],
            cwd=ROOT, env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:  # noqa: S310
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not come up within {self.startup_seconds:.0f} s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    non_2xx: int
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, label: str) -> str:
        return (
            f"{label:<34} {self.rps:9.0f} req/s   p50 {self.p50_ms:6.1f} ms   p95 {self.p95_ms:6.1f} ms"
            f"   p99 {self.p99_ms:6.1f} ms   non-2xx {self.non_2xx}   errors {self.errors}"
        )


def _lua_string(value: str | bytes) -> str:
    text = value.decode() if isinstance(value, bytes) else value
    level = "=" * 4
    while f"]{level}]" in text:
        level += "="
    return f"[{level}[{text}]{level}]"


def _script(
    method: str, paths: list[str], bodies: list[bytes] | None, headers: dict[str, str]
) -> str:
    header_items = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    body_items = ", ".join(_lua_string(b) for b in bodies) if bodies else ""
    path_items = ", ".join(_lua_string(p) for p in paths)
    return f"""
local paths = {{{path_items}}}
local bodies = {{{body_items}}}
local headers = {{{header_items}}}
local counter = 0
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local body = nil
  if #bodies > 0 then body = bodies[(counter % #bodies) + 1] end
  return wrk.format("{method}", path, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50\\": %d, \\"p95\\": %d, \\"p99\\": %d, \\"non2xx\\": %d, \\"errors\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk(
    url: str,
    *,
    connections: int = 16,
    duration: int = 15,
    method: str = "GET",
    paths: list[str] | None = None,
    bodies: list[bytes] | None = None,
    headers: dict[str, str] | None = None,
    threads: int = 2,
) -> WrkResult:
    """Drive ``url`` (or its host with each of ``paths`` in turn) and return the figures."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    assert parts.hostname in ("127.0.0.1", "localhost", "::1"), (
        "benchmarks only target this machine"
    )
    base = f"{parts.scheme}://{parts.netloc}"
    paths = paths or [parts.path + (f"?{parts.query}" if parts.query else "")]
    all_headers = dict(headers or {})
    if bodies:
        all_headers.setdefault("Content-Type", "application/json")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_script(method, paths, bodies, all_headers))
    try:
        done = subprocess.run(
            [_ensure_wrk(), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s",
             "--timeout", "10s", "-s", script.name, base],
            capture_output=True, text=True, timeout=duration + 60,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50"] / 1000,
                p95_ms=data["p95"] / 1000,
                p99_ms=data["p99"] / 1000,
                non_2xx=data["non2xx"],
                errors=data["errors"],
            )
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def ratio_line(label: str, measured: WrkResult, baseline: WrkResult) -> str:
    ratio = measured.rps / baseline.rps if baseline.rps else 0.0
    return f"{label:<34} ratio {ratio:.2f} of the bare one-INSERT view"


def write_doc_section(doc: Path, name: str, text: str, *, title: str) -> None:
    """Replace the ``<!-- name -->`` section of a doc with ``text``, keeping the other sections."""
    doc.parent.mkdir(exist_ok=True)
    current = doc.read_text() if doc.exists() else f"# {title}\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in current:
        current = re.sub(
            re.escape(start) + ".*?" + re.escape(end), lambda _: block, current, flags=re.S
        )
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    doc.write_text(current)
