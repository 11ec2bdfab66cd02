"""Model probes: one tiny real completion, streamed, in the provider's own wire format.

Runs on the probe engine's event loop (registered as a probe kind in monitoring), so every
request goes through the SSRF-guarded session with a total deadline. The answer is streamed so
the time to first token (the first content delta) is measured as well as the total latency.
Error kinds: timeout, rate_limit (429), overloaded (529), server_error (5xx), auth (401/403),
bad_request (other 4xx), connection, blocked (SSRF guard), malformed (not the wire format),
wrong_answer (the text lacks the expected words).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from django.utils import timezone

from incidents.outbound import MAX_REDIRECTS, OutboundBlocked
from llm.models import OUTCOME_OK, ErrorKind, ModelEndpoint, Provider

MAX_ANSWER_BYTES = 256 * 1024
ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class ModelProbeSpec:
    endpoint_id: int
    provider: str
    base_url: str
    model: str
    credential: str
    prompt: str
    expect: str
    timeout_seconds: float
    slow_call_ms: int

    def __repr__(self) -> str:  # the credential stays out of logs
        return f"ModelProbeSpec({self.endpoint_id}, {self.provider}, {self.base_url!r})"


@dataclass
class ModelOutcome:
    endpoint_id: int
    at: datetime
    outcome: str  # "ok" or an ErrorKind
    latency_ms: int
    ttft_ms: int | None = None
    status_code: int | None = None
    message: str = ""
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == OUTCOME_OK


def spec_of(endpoint: ModelEndpoint) -> ModelProbeSpec:
    return ModelProbeSpec(
        endpoint_id=endpoint.pk,
        provider=endpoint.provider,
        base_url=endpoint.base_url,
        model=endpoint.model,
        credential=str(endpoint.credential()),
        prompt=endpoint.probe_prompt,
        expect=endpoint.probe_expect,
        timeout_seconds=endpoint.probe_timeout_seconds,
        slow_call_ms=endpoint.slow_call_ms,
    )


def request_for(spec: ModelProbeSpec) -> tuple[str, dict, dict]:
    """URL, headers and JSON body of a streamed completion request in the provider's format."""
    base = spec.base_url.rstrip("/")
    messages = [{"role": "user", "content": spec.prompt}]
    if spec.provider == Provider.ANTHROPIC:
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        headers = {"anthropic-version": ANTHROPIC_VERSION, "content-type": "application/json"}
        if spec.credential:
            headers["x-api-key"] = spec.credential
        body = {"model": spec.model, "max_tokens": 16, "messages": messages, "stream": True}
        return url, headers, body
    url = base + "/chat/completions"
    headers = {"content-type": "application/json"}
    if spec.credential:
        headers["authorization"] = f"Bearer {spec.credential}"
    body = {"model": spec.model, "max_tokens": 16, "messages": messages, "stream": True}
    return url, headers, body


def error_kind_of_status(status: int) -> str:
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status == 529:
        return ErrorKind.OVERLOADED
    if status >= 500:
        return ErrorKind.SERVER
    if status in (401, 403):
        return ErrorKind.AUTH
    return ErrorKind.BAD_REQUEST


def _delta_text(provider: str, event: dict) -> str | None:
    """The content text of one stream event, or None when the event carries none."""
    if provider == Provider.ANTHROPIC:
        if event.get("type") == "content_block_delta":
            return (event.get("delta") or {}).get("text")
        if event.get("type") == "error":
            raise ValueError((event.get("error") or {}).get("message", "error event"))
        return None
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise ValueError("stream chunk without choices")
    if not choices:
        return None
    return ((choices[0] or {}).get("delta") or {}).get("content")


def _full_text(provider: str, document: dict) -> str:
    """The answer text of a non-streamed answer (a server that ignored ``stream``)."""
    if provider == Provider.ANTHROPIC:
        return "".join(
            block.get("text", "") for block in document["content"] if block.get("type") == "text"
        )
    return document["choices"][0]["message"]["content"] or ""


def _error_message(body: bytes) -> str:
    try:
        document = json.loads(body)
        error = document.get("error") or {}
        return str(error.get("message") or error.get("type") or "")[:300]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


async def run_model_check(session: aiohttp.ClientSession, spec: ModelProbeSpec) -> ModelOutcome:
    """Send one probe completion. Never raises for network trouble: the outcome says what."""
    at = timezone.now()
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    def failed(kind: str, message: str, status: int | None = None, ttft=None) -> ModelOutcome:
        return ModelOutcome(spec.endpoint_id, at, kind, elapsed(), ttft, status, message[:500])

    url, headers, body = request_for(spec)
    ttft: int | None = None
    parts: list[str] = []
    try:
        async with session.post(
            url,
            json=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=spec.timeout_seconds),
            max_redirects=MAX_REDIRECTS + 1,
        ) as response:
            status = response.status
            if status >= 300:
                raw = await response.content.read(65536)
                return failed(
                    error_kind_of_status(status),
                    f"HTTP {status}: {_error_message(raw)}".rstrip(": "),
                    status,
                )
            content_type = response.headers.get("Content-Type", "")
            if "text/event-stream" not in content_type:
                raw = await response.content.read(MAX_ANSWER_BYTES)
                try:
                    parts.append(_full_text(spec.provider, json.loads(raw)))
                except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                    return failed(ErrorKind.MALFORMED, "answer is not a completion", status)
                ttft = elapsed()
            else:
                size = 0
                async for line in response.content:
                    size += len(line)
                    if size > MAX_ANSWER_BYTES:
                        break
                    line = line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    try:
                        text = _delta_text(spec.provider, json.loads(data))
                    except (ValueError, AttributeError, TypeError) as exc:
                        return failed(ErrorKind.MALFORMED, f"bad stream event: {exc}", status, ttft)
                    if text:
                        if ttft is None:
                            ttft = elapsed()
                        parts.append(text)
    except OutboundBlocked as exc:
        return failed(ErrorKind.BLOCKED, str(exc))
    except TimeoutError:
        return failed(
            ErrorKind.TIMEOUT, f"no complete answer within {spec.timeout_seconds:g} s", ttft=ttft
        )
    except aiohttp.ClientError as exc:
        return failed(ErrorKind.CONNECTION, f"{exc.__class__.__name__}: {exc}")
    except (ValueError, LookupError) as exc:
        return failed(ErrorKind.OTHER, str(exc))
    text = "".join(parts)
    latency = elapsed()
    if ttft is None:
        return failed(ErrorKind.MALFORMED, "stream ended without any content", status)
    if spec.expect and spec.expect.lower() not in text.lower():
        return ModelOutcome(
            spec.endpoint_id, at, ErrorKind.WRONG_ANSWER, latency, ttft, status,
            f"answer {text[:80]!r} does not contain {spec.expect!r}", text[:200],
        )  # fmt: skip
    return ModelOutcome(spec.endpoint_id, at, OUTCOME_OK, latency, ttft, status, "", text[:200])
