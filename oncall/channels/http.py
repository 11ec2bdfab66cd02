"""One outbound POST for the chat, push and phone channels, through the SSRF-guarded session.

Like ``incidents.outbound.post_json`` but for any body (JSON, text, form) and keeping what the
services put in an error answer: their own error text (a misconfigured channel fails its test
message with the words the service chose) and how long they asked us to wait (429 with
``Retry-After`` or a ``retry_after`` field in the JSON body).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp
from django.conf import settings
from django.utils import timezone

from incidents.outbound import MAX_REDIRECTS, OutboundBlocked, guarded_session
from oncall.channels import SendResult

# Longest wait a 429 may impose before the row's next attempt: an hour, as the backoff.
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True)
class Answer:
    status: int | None
    headers: dict  # names in lower case
    text: str
    error: str = ""  # network trouble, before any answer
    error_retryable: bool = True

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def _retry_after_header(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = (when - timezone.now()).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


async def _post(url: str, body: bytes, headers: dict, timeout: float) -> Answer:
    async with guarded_session(timeout=timeout) as session:
        try:
            async with session.post(
                url, data=body, headers=headers, max_redirects=MAX_REDIRECTS + 1
            ) as resp:
                raw = b""
                async for chunk in resp.content.iter_chunked(16384):
                    raw += chunk
                    if len(raw) >= 65536:
                        break
                headers = {name.lower(): value for name, value in resp.headers.items()}
                return Answer(resp.status, headers, raw[:65536].decode("utf-8", "replace"))
        except OutboundBlocked as exc:
            return Answer(None, {}, "", str(exc), False)
        except aiohttp.TooManyRedirects:
            return Answer(None, {}, "", f"more than {MAX_REDIRECTS} redirects", False)
        except TimeoutError:
            return Answer(None, {}, "", f"no complete answer within {timeout:g} s")
        except aiohttp.InvalidURL as exc:
            return Answer(None, {}, "", f"invalid URL: {exc}", False)
        except aiohttp.ClientError as exc:
            return Answer(None, {}, "", f"{exc.__class__.__name__}: {exc}")


def post(
    url: str,
    *,
    body: bytes,
    content_type: str,
    headers: dict | None = None,
    basic_auth: tuple[str, str] | None = None,
) -> Answer:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if basic_auth:
        pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
        all_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    timeout = settings.OUTBOUND_TIMEOUT_SECONDS
    return asyncio.run(_post(url, body, all_headers, timeout))


def post_json(url: str, payload: dict, **kwargs) -> Answer:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return post(url, body=body, content_type="application/json", **kwargs)


def result_of(answer: Answer, *, service: str, service_error=None, retry_after=None) -> SendResult:
    """Turn an answer into a SendResult: 2xx worked; 408/425/429/5xx and network trouble may
    work later; any other 4xx will fail the same way again. ``service_error(data)`` picks the
    service's own error text from its JSON body; ``retry_after(data)`` its requested wait."""
    if answer.status is None:
        return SendResult(False, f"{service}: {answer.error}", retryable=answer.error_retryable)
    if 200 <= answer.status < 300:
        return SendResult(True, status_code=answer.status)
    data = answer.json()
    said = ""
    if service_error is not None and data is not None:
        try:
            said = service_error(data) or ""
        except (AttributeError, KeyError, TypeError, IndexError):
            said = ""
    if not said:
        said = " ".join(answer.text.split())[:300]
    wait = _retry_after_header(answer.headers.get("retry-after"))
    if wait is None and retry_after is not None and data is not None:
        try:
            wait = _retry_after_header(str(retry_after(data)))
        except (AttributeError, KeyError, TypeError, IndexError):
            wait = None
    retryable = answer.status >= 500 or answer.status in (408, 425, 429)
    error = f"{service} answered HTTP {answer.status}" + (f": {said}" if said else "")
    return SendResult(False, error[:2000], retryable, answer.status, retry_after=wait)
