"""Per-call failover across a service's model tiers, as Vigil's route describes them.

Each call tries the active endpoint first, with its slow-call threshold as the deadline of the
whole call (connect, send and every byte of the answer; no SDK retries), and on a timeout, rate limit, 5xx, auth or connection error moves on to the
next tier in the same call. An endpoint that failed is skipped by this process for
``local_cooldown`` seconds, so the avatar's next call already goes to the next tier while Vigil's
breaker (fed by the telemetry this client reports) catches up. A request the provider refuses
as malformed (4xx other than 401/403/408/429) is the caller's problem and is raised at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from vigil_failover import deadline
from vigil_failover.telemetry import TelemetryReporter
from vigil_failover.vigil import VigilUnreachable, request_json

log = logging.getLogger("vigil_failover")


class NoRoute(Exception):
    """Vigil has not answered with a route yet and none is cached."""


class Degraded(Exception):
    """No model tier is available; ``message`` is what the avatar should say."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AllTiersFailed(Exception):
    """Every tier failed within this call; ``attempts`` says how, ``message`` what to say."""

    def __init__(self, attempts: list[Attempt], message: str) -> None:
        super().__init__(
            "every model tier failed: "
            + "; ".join(f"{a.endpoint} {a.outcome} after {a.latency_ms} ms" for a in attempts)
        )
        self.attempts = attempts
        self.message = message


class _CallerError(Exception):
    pass


@dataclass
class Attempt:
    endpoint: str
    tier: int
    outcome: str
    latency_ms: int
    error: str = ""


@dataclass
class Answer:
    text: str
    endpoint: str
    tier: int
    latency_ms: int
    tokens_in: int
    tokens_out: int
    attempts: list[Attempt] = field(default_factory=list)
    raw: object = None


def _kind_of(exc: Exception) -> str:
    """The telemetry outcome for an SDK exception (openai and anthropic share the names)."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if name in ("APITimeoutError", "TimeoutError", "ReadTimeout", "ConnectTimeout"):
        return "timeout"
    if name == "RateLimitError" or status == 429:
        return "rate_limit"
    if status == 529 or name == "OverloadedError":
        return "overloaded"
    if name in ("AuthenticationError", "PermissionDeniedError") or status in (401, 403):
        return "auth"
    if isinstance(status, int) and status >= 500:
        return "server_error"
    if name == "APIConnectionError":
        return "connection"
    if isinstance(status, int) and 400 <= status < 500 and status != 408:
        return "bad_request"
    if name in ("APIResponseValidationError", "ValidationError", "KeyError", "IndexError"):
        return "malformed"
    return "other"


class FailoverClient:
    def __init__(
        self,
        *,
        vigil_url: str,
        token: str,
        service: str,
        credentials: Mapping[str, str] | Callable[[str], str] | None = None,
        route_ttl: float = 5.0,
        threshold_ms: int | None = None,
        local_cooldown: float | None = None,
        report_telemetry: bool = True,
        telemetry_batch: int = 100,
        telemetry_interval: float = 1.0,
        telemetry_queue: int = 10_000,
        vigil_timeout: float = 2.0,
        total_deadline: bool = True,
    ) -> None:
        self.vigil_url = vigil_url.rstrip("/")
        self.token = token
        self.service = service
        self._credentials = credentials or {}
        self.route_ttl = route_ttl
        self.threshold_ms = threshold_ms
        self.local_cooldown = route_ttl if local_cooldown is None else local_cooldown
        self.vigil_timeout = vigil_timeout
        # The threshold bounds the whole call (connect, send, every byte of the answer), not
        # each socket read: see vigil_failover.deadline.
        self.total_deadline = total_deadline
        self._route: dict | None = None
        self._etag = ""
        self._fetched_at = 0.0
        self._refreshing = threading.Lock()
        self._skip_until: dict[str, float] = {}
        self._sdk_clients: dict[tuple, object] = {}
        self.telemetry = (
            TelemetryReporter(
                vigil_url=vigil_url,
                token=token,
                batch_size=telemetry_batch,
                flush_interval=telemetry_interval,
                max_queue=telemetry_queue,
                timeout=vigil_timeout,
            )
            if report_telemetry
            else None
        )

    # --- the route ------------------------------------------------------------------------

    def _fetch_route(self) -> None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        status, body, response_headers = request_json(
            "GET",
            f"{self.vigil_url}/api/v1/services/{self.service}/route",
            token=self.token,
            headers=headers,
            timeout=self.vigil_timeout,
        )
        if status == 200 and isinstance(body, dict):
            self._route = body
            self._etag = response_headers.get("ETag", "")
        elif status != 304:
            raise NoRoute(f"Vigil answered {status} for the route of {self.service}: {body}")
        self._fetched_at = time.monotonic()

    def _refresh_in_background(self) -> None:
        if not self._refreshing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._fetch_route()
            except (VigilUnreachable, NoRoute) as exc:
                log.warning("route refresh failed, keeping the cached route: %s", exc)
                self._fetched_at = time.monotonic()  # try again after another ttl
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="vigil-route", daemon=True).start()

    def route(self) -> dict:
        """The cached route; the first call waits for Vigil, later ones refresh in background."""
        if self._route is None:
            with self._refreshing:
                if self._route is None:
                    try:
                        self._fetch_route()
                    except VigilUnreachable as exc:
                        raise NoRoute(f"Vigil unreachable and no route cached: {exc}") from None
        elif time.monotonic() - self._fetched_at > self.route_ttl:
            self._refresh_in_background()
        return self._route

    def _tiers(self) -> list[dict]:
        route = self.route()
        chain = ([route["endpoint"]] if route.get("endpoint") else []) + list(
            route.get("fallbacks") or []
        )
        if not chain:
            raise Degraded((route.get("degradation") or {}).get("message", ""))
        now = time.monotonic()
        fresh = [e for e in chain if self._skip_until.get(e["name"], 0) <= now]
        return fresh or chain  # all cooling down: try them anyway rather than say nothing

    # --- the call -------------------------------------------------------------------------

    def _credential(self, name: str) -> str:
        if callable(self._credentials):
            return self._credentials(name) or "unused"
        return self._credentials.get(name) or "unused"

    def _sdk(self, endpoint: dict, timeout: float):
        key = (endpoint["name"], endpoint["provider"], endpoint["base_url"], timeout)
        client = self._sdk_clients.get(key)
        if client is None:
            if endpoint["provider"] == "anthropic":
                import anthropic as sdk

                factory = sdk.Anthropic
            else:
                import openai as sdk

                factory = sdk.OpenAI
            extra = {}
            if self.total_deadline:
                http_client = deadline.http_client_for(sdk, timeout)
                if http_client is not None:
                    extra["http_client"] = http_client
            client = factory(
                api_key=self._credential(endpoint["name"]),
                base_url=endpoint["base_url"],
                timeout=timeout,
                max_retries=0,
                **extra,
            )
            self._sdk_clients[key] = client
        return client

    def _threshold(self, endpoint: dict) -> float:
        return (self.threshold_ms or endpoint.get("slow_call_ms") or 3000) / 1000

    def warm_up(self) -> None:
        """Read the route and build the SDK clients of every tier now (imports included).

        Call it when the gateway starts, so the first user's call does not pay for importing
        the provider SDKs inside its time budget.
        """
        for endpoint in self._tiers():
            client = self._sdk(endpoint, self._threshold(endpoint))
            # Touching the resource imports its modules now rather than in the first call.
            _ = client.messages if endpoint["provider"] == "anthropic" else client.chat.completions

    def _call_one(self, endpoint: dict, messages: list[dict], max_tokens: int, kwargs: dict):
        threshold = self._threshold(endpoint)
        client = self._sdk(endpoint, threshold)
        if not self.total_deadline:
            return self._request(client, endpoint, messages, max_tokens, kwargs)
        with deadline.within(time.monotonic() + threshold):
            return self._request(client, endpoint, messages, max_tokens, kwargs)

    @staticmethod
    def _request(client, endpoint: dict, messages: list[dict], max_tokens: int, kwargs: dict):
        if endpoint["provider"] == "anthropic":
            system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
            rest = [m for m in messages if m.get("role") != "system"]
            extra = {"system": system} if system else {}
            message = client.messages.create(
                model=endpoint["model"], max_tokens=max_tokens, messages=rest, **extra, **kwargs
            )
            text = "".join(b.text for b in message.content if getattr(b, "type", "") == "text")
            return text, message.usage.input_tokens, message.usage.output_tokens, message
        completion = client.chat.completions.create(
            model=endpoint["model"], messages=messages, max_tokens=max_tokens, **kwargs
        )
        usage = completion.usage
        text = completion.choices[0].message.content or ""
        return (
            text,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            completion,
        )

    def _report(self, endpoint: dict, outcome: str, latency_ms: int, tokens=(0, 0)) -> None:
        if self.telemetry is None:
            return
        self.telemetry.report(
            {
                "time": datetime.now(timezone.utc).isoformat(),  # noqa: UP017 - py3.10
                "service": self.service,
                "endpoint": endpoint["name"],
                "latency_ms": latency_ms,
                "outcome": outcome,
                "tokens_in": tokens[0],
                "tokens_out": tokens[1],
            }
        )

    def chat(self, messages: list[dict], *, max_tokens: int = 512, **kwargs) -> Answer:
        """One completion, failing over tier by tier within this call.

        Raises ``Degraded`` when Vigil says no tier is available and ``AllTiersFailed`` when
        every tier failed now; both carry ``message``, the degradation text to say.
        """
        attempts: list[Attempt] = []
        for endpoint in self._tiers():
            started = time.perf_counter()
            try:
                text, tokens_in, tokens_out, raw = self._call_one(
                    endpoint, messages, max_tokens, kwargs
                )
            except Exception as exc:  # noqa: BLE001 - any SDK failure moves to the next tier
                latency = int((time.perf_counter() - started) * 1000)
                outcome = _kind_of(exc)
                self._report(endpoint, outcome, latency)
                if outcome == "bad_request":
                    raise
                attempts.append(
                    Attempt(endpoint["name"], endpoint["tier"], outcome, latency, str(exc)[:200])
                )
                self._skip_until[endpoint["name"]] = time.monotonic() + self.local_cooldown
                continue
            latency = int((time.perf_counter() - started) * 1000)
            self._report(endpoint, "ok", latency, (tokens_in, tokens_out))
            self._skip_until.pop(endpoint["name"], None)
            return Answer(
                text, endpoint["name"], endpoint["tier"], latency, tokens_in, tokens_out,
                attempts, raw,
            )  # fmt: skip
        route = self._route or {}
        raise AllTiersFailed(attempts, (route.get("degradation") or {}).get("message", ""))

    def close(self) -> None:
        if self.telemetry is not None:
            self.telemetry.close()
