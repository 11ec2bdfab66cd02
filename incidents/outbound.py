"""Outbound HTTP with an SSRF guard, a total deadline and signed JSON deliveries.

Everything Vigil sends out (probes, notification webhooks, automated actions) goes through
``guarded_session()``. The guard checks the address the connector will actually connect to: the
connector only ever connects to the addresses ``_resolve_host`` returns, so filtering them there
covers DNS names, literal IPs and every redirect hop (at most 3). IPv4-mapped IPv6 addresses are
unmapped before the check. Private, loopback, link-local, CGNAT, unique-local and metadata
addresses are refused unless ``settings.OUTBOUND_ALLOWED_NETWORKS`` names them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from django.conf import settings

MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"

_BLOCKED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96",
        "2002::/16", "2001::/32",  # 6to4 and Teredo can tunnel to any IPv4 address
    )
]  # fmt: skip


class OutboundBlocked(aiohttp.ClientError):
    """The destination resolves only to addresses Vigil may not call."""


def _unmapped(address: ipaddress.IPv4Address | ipaddress.IPv6Address):
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_allowed(address: str, allowed: Iterable | None = None) -> bool:
    """May Vigil connect to this IP address? Allow-listed networks win over the block list."""
    try:
        ip = _unmapped(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    allowed = settings.OUTBOUND_ALLOWED_NETWORKS if allowed is None else allowed
    if any(ip in net for net in allowed if net.version == ip.version):
        return True
    return not any(ip in net for net in _BLOCKED if net.version == ip.version)


class GuardedConnector(aiohttp.TCPConnector):
    async def _resolve_host(self, host, port, traces=None):
        results = await super()._resolve_host(host, port, traces=traces)
        permitted = [r for r in results if address_allowed(r["host"])]
        if not permitted:
            addresses = ", ".join(sorted({r["host"] for r in results}))
            raise OutboundBlocked(
                f"refused to connect to {host} ({addresses}): private, loopback, link-local or "
                "metadata address; add it to PROBE_ALLOWED_NETWORKS to allow it"
            )
        return permitted


def guarded_session(
    *, timeout: float | None = None, limit: int = 100, limit_per_host: int = 0
) -> aiohttp.ClientSession:
    """A client session whose every connection passes the SSRF guard and has a total deadline.

    ``timeout`` is the total time for one request, connection through the last body byte, so a
    body that trickles forever fails at the deadline.
    """
    connector = GuardedConnector(limit=limit, limit_per_host=limit_per_host, ttl_dns_cache=30)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout or settings.OUTBOUND_TIMEOUT_SECONDS),
        headers={"User-Agent": "Vigil/1.0"},
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp.body``, hex; receivers recompute it to verify the sender."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300
) -> bool:
    try:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status: int | None
    error: str
    # A 4xx other than 408/429 will fail the same way again: the caller should not retry it.
    retryable: bool
    body: str = ""


async def _read_capped(resp: aiohttp.ClientResponse, cap: int = 65536) -> bytes:
    """Read the whole body (so a trickling one meets the deadline) but keep at most ``cap`` bytes."""
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(16384):
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            break
    return b"".join(chunks)[:cap]


def _classify(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


async def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> DeliveryResult:
    async with guarded_session(timeout=timeout) as session:
        try:
            async with session.post(
                # aiohttp counts the last hop in max_redirects: +1 follows exactly MAX_REDIRECTS.
                url,
                data=body,
                headers=headers,
                max_redirects=MAX_REDIRECTS + 1,
            ) as resp:
                text = (await _read_capped(resp)).decode("utf-8", "replace")
                if 200 <= resp.status < 300:
                    return DeliveryResult(True, resp.status, "", False, text)
                return DeliveryResult(
                    False, resp.status, f"HTTP {resp.status}", _classify(resp.status), text
                )
        except OutboundBlocked as exc:
            return DeliveryResult(False, None, str(exc), False)
        except aiohttp.TooManyRedirects:
            return DeliveryResult(False, None, f"more than {MAX_REDIRECTS} redirects", False)
        except TimeoutError:
            return DeliveryResult(False, None, f"no complete answer within {timeout:g} s", True)
        except aiohttp.InvalidURL as exc:
            return DeliveryResult(False, None, f"invalid URL: {exc}", False)
        except aiohttp.ClientError as exc:
            return DeliveryResult(False, None, f"{exc.__class__.__name__}: {exc}", True)


def post_json(
    url: str,
    payload: dict,
    *,
    secret: str = "",
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
) -> DeliveryResult:
    """POST JSON synchronously (from a Celery task), signed when a secret is given.

    Never raises for network trouble: the result says whether it worked and whether a retry
    could help.
    """
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if secret:
        timestamp = str(int(time.time()))
        all_headers[TIMESTAMP_HEADER] = timestamp
        all_headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    return asyncio.run(_post(url, body, all_headers, timeout or settings.OUTBOUND_TIMEOUT_SECONDS))


# --- JSON bodies filled from an incident ----------------------------------------------------


def incident_url(incident) -> str:
    """The absolute URL of the incident's room, as messages and outgoing bodies give it."""
    from django.urls import reverse

    return settings.BASE_URL.rstrip("/") + reverse("incident-room", args=[incident.pk])


def incident_template_context(incident) -> dict:
    """What a JSON template may name about an incident: ``{{ incident.title }}`` and friends."""
    from incidents.models import Severity

    return {
        "incident": {
            "id": incident.pk,
            "reference": incident.reference,
            "title": incident.title,
            "summary": incident.summary,
            "severity": incident.severity,
            "severity_label": Severity(incident.severity).label,
            "status": incident.status,
            "dedup_key": incident.dedup_key,
            "url": incident_url(incident),
        },
        "service": {"name": incident.service.name, "slug": incident.service.slug},
    }


# The first template form (L1 automated actions): ``$title`` names a path of the context.
DOLLAR_ALIASES = {
    "reference": "incident.reference",
    "incident_id": "incident.id",
    "title": "incident.title",
    "summary": "incident.summary",
    "severity": "incident.severity",
    "severity_label": "incident.severity_label",
    "status": "incident.status",
    "service": "service.name",
    "service_slug": "service.slug",
    "url": "incident.url",
    "level": "level",
}

_PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<path>[A-Za-z_][\w.\-]*)\s*\}\}"
    r"|\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)\}|(?P<named>[A-Za-z_]\w*))"
)
_MISSING = object()


def _lookup(context: dict, path: str):
    value = context
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _as_text(value) -> str:
    return "" if value is _MISSING or value is None else str(value)


def fill_json_template(template, context: dict):
    """Fill placeholders in every string (keys too) of a parsed JSON template.

    ``{{ incident.title }}`` names a dotted path of ``context``; a string that is only one such
    placeholder keeps the value's type (``"{{ incident.severity }}"`` becomes the number 3). The
    older ``$title`` / ``${title}`` form is an alias for the paths in ``DOLLAR_ALIASES`` and
    always gives text; ``$$`` is a literal ``$`` and unknown ``$names`` stay as written.
    Values land inside parsed JSON strings, never in JSON text, so a title with quotes cannot
    change the body's structure; one pass over each string, so inserted text is never re-read.
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole and whole.group("path"):
            value = _lookup(context, whole.group("path"))
            return "" if value is _MISSING else value

        def substitute(match: re.Match) -> str:
            if match.group("path"):
                return _as_text(_lookup(context, match.group("path")))
            if match.group("escaped"):
                return "$"
            name = match.group("braced") or match.group("named")
            if name in DOLLAR_ALIASES:
                return _as_text(_lookup(context, DOLLAR_ALIASES[name]))
            return match.group(0)

        return _PLACEHOLDER.sub(substitute, template)
    if isinstance(template, list):
        return [fill_json_template(item, context) for item in template]
    if isinstance(template, dict):
        return {
            fill_json_template(str(key), context): fill_json_template(value, context)
            for key, value in template.items()
        }
    return template
