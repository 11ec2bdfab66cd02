"""PagerDuty Events API v2 (``POST /v2/enqueue``), answered as PagerDuty answers.

Semantics kept from PagerDuty: events with the same dedup_key act on the open incident; after
it resolves, a trigger opens a new one, while acknowledge/resolve for an unknown or resolved key
are accepted and dropped. A trigger without a dedup_key gets a generated one, returned.
"""

from __future__ import annotations

import uuid

from incidents.ingest.payload import (
    CLAMPED_TIMES,
    PayloadError,
    nested_details,
    optional,
    require,
    severity_from_word,
    short_hash,
    text,
    timestamp,
)

ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024


def incident_key(integration, dedup_key: str) -> str:
    """Keys are scoped to the routing key, as in PagerDuty: an acknowledge or resolve sent with
    another integration's key never touches this one's incident."""
    key = f"pd:{integration.pk}:{dedup_key}"
    return key if len(key) <= 255 else f"pd:{integration.pk}:#{short_hash(dedup_key)}"


def routing_key(document: dict) -> str:
    key = require(document, "routing_key", str)
    if not key.strip():
        raise PayloadError("routing_key", "is required")
    return key.strip()


def parse(document: dict, integration) -> dict:
    action = require(document, "event_action", str)
    if action not in ACTIONS:
        raise PayloadError("event_action", "must be trigger, acknowledge or resolve")
    dedup_key = optional(document, "dedup_key", str, "")
    if len(dedup_key) > MAX_DEDUP_KEY:
        raise PayloadError("dedup_key", f"must be at most {MAX_DEDUP_KEY} characters")
    if action != "trigger":
        if not dedup_key:
            raise PayloadError("dedup_key", f"is required to {action}")
        return {
            "incident_key": incident_key(integration, dedup_key),
            "dedup_key": dedup_key,
            "action": action,
            "alerts": [],
        }
    if not dedup_key:
        dedup_key = uuid.uuid4().hex
    payload = require(document, "payload", dict)
    summary = require(payload, "summary", str, "payload.summary")
    if not summary.strip():
        raise PayloadError("payload.summary", "is required")
    if len(summary) > MAX_SUMMARY:
        raise PayloadError("payload.summary", f"must be at most {MAX_SUMMARY} characters")
    source = require(payload, "source", str, "payload.source")
    severity = severity_from_word(
        require(payload, "severity", str, "payload.severity"),
        integration,
        "payload.severity",
        strict=True,
    )
    details = {
        "source": text(source, 255),
        "component": text(optional(payload, "component", str, "", "payload.component"), 255),
        "group": text(optional(payload, "group", str, "", "payload.group"), 255),
        "class": text(optional(payload, "class", str, "", "payload.class"), 255),
        "custom_details": nested_details(payload.get("custom_details"), "payload.custom_details"),
        "client": text(optional(document, "client", str, ""), 255),
        "links": _list_of_objects(document, "links"),
        "images": _list_of_objects(document, "images"),
    }
    client_url = text(optional(document, "client_url", str, ""), 2048)
    clamped: dict[str, str] = {}
    starts_at = timestamp(payload.get("timestamp"), "payload.timestamp", clamped=clamped)
    if clamped:
        details[CLAMPED_TIMES] = clamped
    return {
        "incident_key": incident_key(integration, dedup_key),
        "dedup_key": dedup_key,
        "title": summary[:255],
        "summary": summary,
        "action": "alerts",
        "alerts": [
            {
                "fingerprint": dedup_key,
                "status": "firing",
                "severity": severity,
                "summary": summary,
                "labels": {},
                "annotations": {},
                "details": {k: v for k, v in details.items() if v},
                "source_url": client_url,
                "starts_at": starts_at,
                "ends_at": None,
            }
        ],
    }


def _list_of_objects(document: dict, key: str) -> list:
    items = optional(document, key, list, [])
    if len(items) > 50:
        raise PayloadError(key, "holds more than 50 entries")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"{key}[{index}]", "must be an object")
        nested_details(item, f"{key}[{index}]")
    return items
