"""`make bench-llm`: telemetry ingest, the route endpoint and the failover client's overhead.

Budgets (issue 14), each against a baseline measured in the same run:
- telemetry rows/s in batches of 100 and 1,000 events >= 20x the rows/s of the bare one-INSERT
  view (one row per request);
- GET /api/v1/services/<slug>/route (token auth, served from the cache) at 16 connections
  >= 0.5x a bare Django GET;
- the client (vigil-failover: cached route, background telemetry) >= 0.9x the call rate of the
  `openai` package calling the same local model server directly.
Measured with wrk against gunicorn (4 sync workers) on database vigil_bench_llm.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import BenchServer, machine, write_doc_section, wrk  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance-llm.md"

SEED = """
from accounts.models import Membership, Role, Team, User
from accounts.tokens import create_token
from incidents.actors import Actor
from incidents.models import Service
from llm.models import ModelEndpoint
from llm.routing import recompute_route
from llm.models import TelemetryEvent, TelemetryMinute

team, _ = Team.objects.get_or_create(slug="bench-llm", defaults={"name": "Bench LLM"})
user, _ = User.objects.get_or_create(username="bench-llm")
Membership.objects.get_or_create(user=user, team=team, defaults={"role": Role.RESPONDER})
service, _ = Service.objects.get_or_create(slug="bench-avatar", defaults={"team": team, "name": "Bench avatar"})
for tier, name in ((1, "primary"), (2, "secondary")):
    ModelEndpoint.objects.update_or_create(
        service=service, name=name,
        defaults={"tier": tier, "base_url": "MODEL_BASE", "model": "bench-model",
                  "probe_enabled": False, "price_in_per_1k": "0.0005", "price_out_per_1k": "0.0015",
                  "breaker_state": "closed"},
    )
recompute_route(service_id=service.pk, reason="bench set up")
TelemetryEvent.objects.all().delete()
TelemetryMinute.objects.all().delete()
print("SEED", create_token(user=user, name="bench", actor=Actor.of_user(user)).plaintext)
"""


def _events(n: int, offset: int) -> bytes:
    events = [
        {"service": "bench-avatar", "endpoint": "primary" if i % 5 else "secondary",
         "latency_ms": 300 + (i * 37 + offset) % 2500, "ttft_ms": 120 + i % 300,
         "outcome": "ok" if i % 50 else "rate_limit", "tokens_in": 200 + i % 800,
         "tokens_out": 40 + i % 300}
        for i in range(n)
    ]  # fmt: skip
    return json.dumps({"events": events}).encode()


class ModelServer:
    """A local OpenAI-compatible server answering at once (aiohttp in a thread)."""

    def __init__(self) -> None:
        from aiohttp import web

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def completions(request):
            body = await request.json()
            return web.json_response({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 1, "total_tokens": 13},
            })  # fmt: skip

        async def start():
            app = web.Application()
            app.router.add_post("/v1/chat/completions", completions)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]

        self.port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.base = f"http://127.0.0.1:{self.port}/v1"


def _interleaved(first, second, *, rounds: int = 10, calls: int = 40) -> tuple[float, float]:
    """Calls/s of each, measured in alternating rounds so machine noise hits both alike."""
    for _ in range(20):
        first()
        second()
    spent = [0.0, 0.0]
    for _ in range(rounds):
        for i, call in enumerate((first, second)):
            started = time.perf_counter()
            for _ in range(calls):
                call()
            spent[i] += time.perf_counter() - started
    return rounds * calls / spent[0], rounds * calls / spent[1]


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    duration = 10
    lines = [f"machine: {machine()} (shared with other engineers' work while measured)",
             f"load average (1, 5, 15 min) at the start: {_load()}"]  # fmt: skip
    print("\n".join(lines))
    model = ModelServer()
    env = {"API_THROTTLE_RATE": "100000000/min", "REDIS_URL": "redis://127.0.0.1:6379/4"}
    # A shared machine can take long to start 4 workers: wait up to five minutes.
    with BenchServer(name="llm", env=env, startup_timeout=300) as server:
        seeded = server.shell(SEED.replace("MODEL_BASE", model.base))
        token = next(x for x in seeded.splitlines() if x.startswith("SEED")).split()[1]
        auth = {"Authorization": f"Bearer {token}"}
        # Warm-up: every worker imports and connects on its first requests, for each path.
        wrk(server.url + "/bench/insert", connections=16, duration=2, method="POST",
            bodies=[b"{}"])  # fmt: skip
        wrk(server.url + "/bench/get", connections=16, duration=2)
        wrk(server.url + "/api/v1/telemetry", connections=16, duration=2, method="POST",
            bodies=[_events(100, 0)], headers=auth)  # fmt: skip
        wrk(server.url + "/api/v1/services/bench-avatar/route", connections=16, duration=2,
            headers=auth)  # fmt: skip
        base = wrk(server.url + "/bench/insert", connections=16, duration=duration, method="POST",
                   bodies=[b"{}"])  # fmt: skip
        results = [("bare one-INSERT view (1 row/request)", base, 1)]
        for batch in (100, 1000):
            result = wrk(
                server.url + "/api/v1/telemetry", connections=16, duration=duration,
                method="POST", bodies=[_events(batch, k) for k in range(4)], headers=auth,
            )  # fmt: skip
            results.append((f"POST /api/v1/telemetry, {batch} events", result, batch))
        bare_get = wrk(server.url + "/bench/get", connections=16, duration=duration)
        route = wrk(
            server.url + "/api/v1/services/bench-avatar/route", connections=16,
            duration=duration, headers=auth,
        )  # fmt: skip
        stored = server.shell(
            "from llm.models import TelemetryEvent; print(TelemetryEvent.objects.count())"
        ).strip()

        import openai
        from vigil_failover import FailoverClient

        direct_client = openai.OpenAI(api_key="bench", base_url=model.base, max_retries=0)
        messages = [{"role": "user", "content": "ping"}]

        def direct():
            direct_client.chat.completions.create(
                model="bench-model", messages=messages, max_tokens=5
            )

        failover = FailoverClient(vigil_url=server.url, token=token, service="bench-avatar",
                                  credentials={"primary": "bench", "secondary": "bench"})  # fmt: skip
        failover.warm_up()

        def through_client():
            failover.chat(messages, max_tokens=5)

        rounds, per_round = 20, 40
        calls = rounds * per_round
        direct_rate, client_rate = _interleaved(
            direct, through_client, rounds=rounds, calls=per_round
        )
        failover.telemetry.flush(timeout=20)
        reported, dropped = failover.telemetry.sent, failover.telemetry.dropped
        failover.close()

    out = ["", f"wrk: {duration} s each, 16 connections, gunicorn 4 sync workers", ""]
    out.append("| what | req/s | rows/s | p50 ms | p99 ms | non-2xx | rows/s vs bare INSERT |")
    out.append("| --- | --- | --- | --- | --- | --- | --- |")
    for label, r, rows in results:
        out.append(
            f"| {label} | {r.rps:,.0f} | {r.rps * rows:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.non_2xx} | **{r.rps * rows / base.rps:.1f}x** |"
        )
    out.append(f"\nTelemetry rows stored during the run: {stored}.\n")
    out.append("| what | req/s | p50 ms | p99 ms | non-2xx | vs bare GET |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    out.append(f"| bare Django GET (baseline) | {bare_get.rps:,.0f} | {bare_get.p50_ms:.1f} | "
               f"{bare_get.p99_ms:.1f} | {bare_get.non_2xx} | 1.00x |")  # fmt: skip
    out.append(f"| GET /api/v1/services/<slug>/route | {route.rps:,.0f} | {route.p50_ms:.1f} | "
               f"{route.p99_ms:.1f} | {route.non_2xx} | **{route.rps / bare_get.rps:.2f}x** |")  # fmt: skip
    out.append("")
    out.append(f"Client, {calls} sequential calls each way to a local OpenAI-compatible server, "
               f"in alternating rounds of {per_round}: direct `openai` {direct_rate:,.0f} calls/s, "
               f"through vigil-failover (route cached, telemetry in background batches) "
               f"{client_rate:,.0f} calls/s: **{client_rate / direct_rate:.2f}x** (goal >= 0.9x); "
               f"telemetry reported {reported}, dropped {dropped}.")  # fmt: skip
    out.append(f"\nLoad average at the end: {_load()}. The goals are ratios to the baselines "
               "measured in the same run, so a busy machine lowers the figures, not the ratios "
               "(much).")  # fmt: skip
    text = "\n".join(lines + out)
    print(text)
    write_doc_section(DOC, "bench-llm", "## make bench-llm\n\n" + text, title="Performance: LLM")


if __name__ == "__main__":
    main()
