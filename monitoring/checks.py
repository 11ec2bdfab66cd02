"""One HTTP check, and many at once: the only code here that talks to the network.

Every request goes through ``incidents.outbound.guarded_session`` (SSRF guard on the address
actually connected to, redirects included) and has a total deadline that covers reading the
body, so an endpoint that trickles bytes forever fails at its timeout, not later. The body is
always read (up to ``MAX_BODY_BYTES``) so the deadline applies to it and the connection can be
reused for the next probe of the same host.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from django.conf import settings
from django.utils import timezone

from incidents.outbound import MAX_REDIRECTS, OutboundBlocked, guarded_session
from monitoring.models import ErrorCategory, parse_expected_status

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class ProbeSpec:
    """What a worker needs to run one probe; loaded in one query per batch."""

    id: int
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: str = ""
    expected_status: str = "200-299"
    expected_text: str = ""
    expected_json_path: str = ""
    expected_json_value: str = ""
    timeout_seconds: float = 10.0
    latency_threshold_ms: int = 3000

    FIELDS = (
        "id", "method", "url", "headers", "body", "expected_status", "expected_text",
        "expected_json_path", "expected_json_value", "timeout_seconds", "latency_threshold_ms",
    )  # fmt: skip


@dataclass
class Outcome:
    probe_id: int
    at: datetime
    ok: bool
    latency_ms: int | None
    status_code: int | None = None
    error: str = ErrorCategory.NONE
    message: str = ""
    # Injected by a game day (monitoring.injection): the incident it opens is a drill.
    drill: bool = False

    @property
    def kind(self) -> str:
        """``fail``, ``slow`` or ``up``: what the state machine counts."""
        if not self.ok:
            return "fail"
        return "slow" if self.error == ErrorCategory.SLOW else "up"

    def describe(self) -> str:
        parts = []
        if self.error and self.error != ErrorCategory.SLOW:
            parts.append(ErrorCategory(self.error).label)
        if self.message:
            parts.append(self.message)
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms} ms")
        return ", ".join(parts)


def _json_value_at(document, path: str):
    current = document
    for part in path.removeprefix("$.").removeprefix("$").split("."):
        if part == "":
            continue
        if isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                raise KeyError(part) from None
        elif isinstance(current, dict):
            current = current[part]
        else:
            raise KeyError(part)
    return current


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _content_problem(spec: ProbeSpec, body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if spec.expected_text and spec.expected_text not in text:
        return f"body does not contain {spec.expected_text!r}"
    if spec.expected_json_path:
        try:
            value = _json_value_at(json.loads(text), spec.expected_json_path)
        except ValueError:
            return "body is not JSON"
        except KeyError:
            return f"JSON has no {spec.expected_json_path!r}"
        if spec.expected_json_value and _as_text(value) != spec.expected_json_value:
            return (
                f"{spec.expected_json_path} is {_as_text(value)[:80]!r}, "
                f"expected {spec.expected_json_value!r}"
            )
    return ""


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    while size < MAX_BODY_BYTES:
        chunk = await response.content.read(MAX_BODY_BYTES - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@functools.lru_cache(maxsize=256)
def _expected_ranges(spec: str) -> tuple[tuple[int, int], ...]:
    return tuple(parse_expected_status(spec))


def _failure(spec, at, started, error, message, status=None) -> Outcome:
    latency = int((time.perf_counter() - started) * 1000)
    return Outcome(spec.id, at, False, latency, status, error, message[:500])


async def run_check(session: aiohttp.ClientSession, spec: ProbeSpec) -> Outcome:
    """Run one probe. Never raises for network trouble: the outcome says what went wrong."""
    at = timezone.now()
    started = time.perf_counter()
    timeout = spec.timeout_seconds
    try:
        async with session.request(
            spec.method,
            spec.url,
            headers=spec.headers or None,
            data=spec.body.encode() if spec.body else None,
            timeout=aiohttp.ClientTimeout(total=timeout),
            # aiohttp counts the final hop too: +1 follows exactly MAX_REDIRECTS redirects.
            max_redirects=MAX_REDIRECTS + 1,
        ) as response:
            body = b"" if spec.method == "HEAD" else await _read_capped(response)
            status = response.status
    except OutboundBlocked as exc:
        return _failure(spec, at, started, ErrorCategory.BLOCKED, str(exc))
    except aiohttp.TooManyRedirects:
        return _failure(
            spec, at, started, ErrorCategory.CONNECTION, f"more than {MAX_REDIRECTS} redirects"
        )
    except TimeoutError:
        return _failure(
            spec, at, started, ErrorCategory.TIMEOUT, f"no complete answer within {timeout:g} s"
        )
    except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
        return _failure(spec, at, started, ErrorCategory.TLS, str(exc))
    except aiohttp.ClientConnectorDNSError as exc:
        return _failure(spec, at, started, ErrorCategory.DNS, str(exc))
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ConnectionRefusedError):
            return _failure(
                spec,
                at,
                started,
                ErrorCategory.REFUSED,
                f"connection refused by {exc.host}:{exc.port}",
            )
        return _failure(spec, at, started, ErrorCategory.CONNECTION, str(exc))
    except aiohttp.InvalidURL as exc:
        return _failure(spec, at, started, ErrorCategory.INVALID, f"invalid URL: {exc}")
    except aiohttp.ClientError as exc:
        return _failure(
            spec, at, started, ErrorCategory.CONNECTION, f"{exc.__class__.__name__}: {exc}"
        )
    except (ValueError, LookupError) as exc:  # malformed header values and similar
        return _failure(spec, at, started, ErrorCategory.INVALID, str(exc))
    latency = int((time.perf_counter() - started) * 1000)

    ranges = _expected_ranges(spec.expected_status)
    if not any(low <= status <= high for low, high in ranges):
        return Outcome(spec.id, at, False, latency, status, ErrorCategory.STATUS,
                       f"status {status}, expected {spec.expected_status}")  # fmt: skip
    problem = _content_problem(spec, body)
    if problem:
        return Outcome(spec.id, at, False, latency, status, ErrorCategory.CONTENT, problem[:500])
    if latency > spec.latency_threshold_ms:
        return Outcome(spec.id, at, True, latency, status, ErrorCategory.SLOW,
                       f"{latency} ms, over the {spec.latency_threshold_ms} ms threshold")  # fmt: skip
    return Outcome(spec.id, at, True, latency, status)


async def run_checks(
    session: aiohttp.ClientSession, specs: list[ProbeSpec], *, concurrency: int
) -> list[Outcome]:
    """Run every spec, at most ``concurrency`` at a time, and return outcomes in spec order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(spec: ProbeSpec) -> Outcome:
        async with semaphore:
            return await run_check(session, spec)

    return list(await asyncio.gather(*(bounded(spec) for spec in specs)))


def new_session() -> aiohttp.ClientSession:
    """The probe session: SSRF-guarded, keep-alive per host; call inside a running loop."""
    return guarded_session(
        timeout=settings.PROBE_MAX_TIMEOUT_SECONDS,
        limit=settings.PROBE_CONCURRENCY,
        limit_per_host=settings.PROBE_LIMIT_PER_HOST,
    )


class _ProcessRunner:
    """One event loop (in its own thread) and one client session per worker process.

    Reusing the session keeps connections alive between batches (many probes watch the same
    host). The loop runs in a background thread so the calling thread can write the results of
    the first finished checks to the database while the rest are still on the network; all
    database work stays in the calling thread. Created lazily after Celery forks, and again if
    the process forked since.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="probe-loop", daemon=True)
        self.thread.start()
        self.session = self._call(self._session())

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    @staticmethod
    async def _session() -> aiohttp.ClientSession:
        return new_session()

    async def _produce(self, specs: list, out: queue.SimpleQueue, chunk: int, check) -> None:
        semaphore = asyncio.Semaphore(settings.PROBE_CONCURRENCY)
        buffer: list = []

        async def one(spec) -> None:
            async with semaphore:
                outcome = await check(self.session, spec)
            buffer.append(outcome)
            if len(buffer) >= chunk:
                out.put(buffer[:])
                buffer.clear()

        try:
            await asyncio.gather(*(one(spec) for spec in specs))
        finally:
            if buffer:
                out.put(buffer[:])
            out.put(None)

    def stream(self, specs: list, chunk: int, check=run_check) -> Iterator[list]:
        out: queue.SimpleQueue = queue.SimpleQueue()
        future = asyncio.run_coroutine_threadsafe(
            self._produce(specs, out, chunk, check), self.loop
        )
        while (outcomes := out.get()) is not None:
            yield outcomes
        future.result()  # re-raise anything unexpected from the loop

    def close(self) -> None:
        self._call(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


_runner: _ProcessRunner | None = None


def _process_runner() -> _ProcessRunner:
    global _runner
    if _runner is None or _runner.pid != os.getpid():
        _runner = _ProcessRunner()
    return _runner


def stream_outcomes(specs: list[ProbeSpec], *, chunk: int) -> Iterator[list[Outcome]]:
    """Run a batch on this process's loop; yield outcomes in groups of ``chunk`` as they finish."""
    yield from _process_runner().stream(specs, chunk)


def stream_kind_outcomes(specs: list, *, check, chunk: int) -> Iterator[list]:
    """Like ``stream_outcomes`` for a registered probe kind's ``check`` coroutine."""
    yield from _process_runner().stream(specs, chunk, check)


def run_specs(specs: list[ProbeSpec]) -> list[Outcome]:
    """Run a batch synchronously and return every outcome (order not guaranteed)."""
    return [o for group in stream_outcomes(specs, chunk=len(specs) or 1) for o in group]


def close_runner() -> None:
    global _runner
    if _runner is not None and _runner.pid == os.getpid():
        _runner.close()
    _runner = None
