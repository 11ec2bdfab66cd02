"""Benchmark of scale-out: `make bench-scaleout` (python bench/scaleout.py).

For each broker (Redis, and RabbitMQ when one answers on BENCH_RABBITMQ_URL) and for 1 and 2
ingest worker processes: gunicorn accepts Alertmanager deliveries for a few seconds with no
worker running (the backlog a storm leaves), then the workers start and apply it. Prints the
accepted req/s, the applied deliveries/s and their ratio to the 1-worker figure of the same
broker, and what one publish costs on each broker (RabbitMQ with publisher confirms). Only
127.0.0.1 is contacted; every wait is bounded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, BenchServer, machine, wrk  # noqa: E402
from bench.ingest import SETUP, bodies  # noqa: E402

FILL_SECONDS = int(os.environ.get("BENCH_DURATION", "6"))
DRAIN_LIMIT = 180
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
RABBITMQ_URL = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
CLEAR = (
    "from incidents.models import InboundEvent\nInboundEvent.objects.pending().delete()\n"
    "from config.celery import app\n"
    "with app.connection_for_write() as conn:\n"
    "    queue = app.amqp.queues['ingest'](conn.default_channel)\n"
    "    queue.declare()\n"
    "    queue.purge()\n"
)
PUBLISH = """
import time
from config.celery import app
n = 300
with app.producer_or_acquire() as producer:
    started = time.perf_counter()
    for _ in range(n):
        app.send_task("incidents.tasks.apply_inbound_events", producer=producer)
    took = time.perf_counter() - started
print(f"{n / took:.0f} {took / n * 1000:.2f}")
"""


def rabbitmq_vhost() -> str | None:
    """A throwaway vhost on the local RabbitMQ, or None when there is none."""
    vhost = f"vigil-bench-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return vhost


def start_workers(server: BenchServer, count: int) -> list[tuple[subprocess.Popen, Path]]:
    workers = []
    for n in range(count):
        log = server.data_dir / f"worker-{n}.log"
        log.unlink(missing_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "ingest",
             "--concurrency", "1", "-n", f"bench{n}@%h", "--without-gossip",
             "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT, env={**server.env, "LOG_LEVEL": "INFO"}, stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        workers.append((process, log))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if all(" ready." in log.read_text(errors="replace") for _, log in workers):
            return workers
        time.sleep(0.5)
    stop(workers)
    raise RuntimeError("the workers did not become ready within 300 s")


def pending_counter(database_url: str):
    """Counts pending deliveries with one query (a manage.py shell per poll would take
    seconds on a busy machine and blur the drain time)."""
    import psycopg

    conn = psycopg.connect(database_url, autocommit=True)

    def count() -> int:
        sql = "SELECT count(*) FROM incidents_inboundevent WHERE processed_at IS NULL"
        return conn.execute(sql).fetchone()[0]

    def last_id() -> int:
        return conn.execute("SELECT coalesce(max(id), 0) FROM incidents_inboundevent").fetchone()[0]

    def applied_since(first_id: int) -> tuple[int, float]:
        """Deliveries applied after ``first_id``, and the seconds from the first to the last
        ``processed_at``: the workers' own clock, not the bench's polling."""
        n, first, last = conn.execute(
            "SELECT count(*), min(processed_at), max(processed_at) FROM incidents_inboundevent "
            "WHERE id > %s AND processed_at IS NOT NULL",
            [first_id],
        ).fetchone()
        return n, (last - first).total_seconds() if n > 1 else 0.0

    count.last_id, count.applied_since = last_id, applied_since
    return count


def stop(workers) -> None:
    for process, _ in workers:
        process.terminate()
    for process, _ in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def run_broker(label: str, broker_url: str, results: list[str]) -> None:
    env = {"REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": broker_url, "INGEST_APPLY_INLINE": "0"}
    with BenchServer(name="scaleout", env=env, startup_timeout=180) as server:
        token = server.shell(SETUP).strip().splitlines()[-1]
        server.shell(CLEAR)
        pending_now = pending_counter(server.env["DATABASE_URL"])
        rate, ms = server.shell(PUBLISH).split()
        results.append(f"{label}: one publish {ms} ms ({rate} publishes/s from one process)")
        print(results[-1], flush=True)
        single = None
        for count in (1, 2):
            server.shell(CLEAR)
            first_id = pending_now.last_id()
            fill = wrk(
                f"{server.url}/hooks/alertmanager/{token}",
                connections=16,
                duration=FILL_SECONDS,
                method="POST",
                bodies=bodies(3000),
            )
            backlog = pending_now()
            server.shell(CLEAR.replace("InboundEvent.objects.pending().delete()", ""))
            workers = start_workers(server, count)
            try:
                server.shell(
                    "from incidents.tasks import apply_inbound_events\n"
                    + "".join("apply_inbound_events.delay()\n" for _ in range(4 * count))
                )
                started = time.monotonic()
                pending = backlog
                while pending and time.monotonic() - started < DRAIN_LIMIT:
                    time.sleep(0.2)
                    pending = pending_now()
                seconds = time.monotonic() - started
            finally:
                stop(workers)
            done, busy = pending_now.applied_since(first_id)
            applied = done / busy if busy else 0.0
            single = single or applied or 1.0
            results.append(
                f"{label}, {count} ingest worker process(es): accepted {fill.rps:.0f} req/s "
                f"(c=16, {fill.non_2xx} non-2xx); applied {done} of {backlog} in {busy:.1f} s "
                f"(first to last processed_at; drained {seconds:.0f} s after the kick) = "
                f"{applied:.0f} deliveries/s ({applied / single:.2f}x one "
                f"worker on {label}); applied/accepted {applied / fill.rps:.2f}"
            )
            print(results[-1], flush=True)


def main() -> None:
    results: list[str] = []
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    vhost = rabbitmq_vhost()
    if vhost is None:
        print("RabbitMQ: not measured (no rabbitmqctl / server on this machine)")
    else:
        try:
            run_broker("rabbitmq", f"{RABBITMQ_URL}/{vhost}", results)
        finally:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
    run_broker("redis", REDIS_URL, results)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    for line in results:
        print(line)


if __name__ == "__main__":
    main()
