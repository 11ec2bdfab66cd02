"""Grafana Alerting webhook contact point.

The envelope is Alertmanager's (groupKey, alerts[] with fingerprint) with ``version`` "1",
``orgId``, ``state``, ``title``, ``message`` and per alert ``values``, ``silenceURL``,
``dashboardURL``, ``panelURL``. Signing is optional: HMAC-SHA256 (hex) over ``timestamp:body``
when a timestamp header is configured, else over the body. The header names are configurable
because Grafana's docs and code have disagreed about them.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from incidents.ingest import alertmanager
from incidents.ingest.payload import nested_details, text

SIGNATURE_WINDOW_SECONDS = 300


class SignatureError(ValueError):
    pass


def verify_signature(integration, body: bytes, headers, *, now: float | None = None) -> None:
    """Raise SignatureError unless the delivery carries a valid, fresh signature."""
    if not integration.hmac_secret:
        return
    signature = headers.get(integration.signature_header or "X-Grafana-Alerting-Signature", "")
    if not signature:
        raise SignatureError(f"missing {integration.signature_header} header")
    signature = signature.strip().lower().removeprefix("sha256=")
    signed = body
    if integration.timestamp_header:
        stamp = headers.get(integration.timestamp_header, "").strip()
        if not stamp:
            raise SignatureError(f"missing {integration.timestamp_header} header")
        try:
            sent_at = float(stamp)
        except ValueError:
            raise SignatureError(f"{integration.timestamp_header} is not a Unix time") from None
        if sent_at > 1e11:  # milliseconds
            sent_at /= 1000
        current = time.time() if now is None else now
        if abs(current - sent_at) > SIGNATURE_WINDOW_SECONDS:
            raise SignatureError("timestamp outside the +-300 s window")
        signed = stamp.encode() + b":" + body
    expected = hmac.new(integration.hmac_secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("signature does not match")


def parse(document: dict, integration) -> dict:
    normalized = alertmanager.parse(document, integration, key_prefix="gf")
    alerts = document["alerts"]
    for index, alert in enumerate(normalized["alerts"]):
        raw = alerts[index]
        alert["details"] = alert["details"] | {
            key: nested_details(raw.get(key), f"alerts[{index}].{key}")
            if key == "values"
            else text(raw.get(key), 2048)
            for key in ("values", "valueString", "silenceURL", "dashboardURL", "panelURL")
            if raw.get(key) is not None
        }
    if not normalized["summary"]:
        normalized["summary"] = text(document.get("message"))
    return normalized
