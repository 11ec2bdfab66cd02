"""Generic JSON webhook, for anything that can POST JSON.

    {"title": "Checkout bot silent",          required
     "dedup_key": "checkout-bot",             optional; defaults to the title
     "severity": 4 | "critical",              1-5 or a word (critical, error/major, warning, info)
     "status": "firing" | "resolved",         default firing
     "description": "...", "details": {...}, "source_url": "https://..."}

One incident per dedup_key; a "resolved" delivery resolves the alert, and the incident with it
when the integration auto-resolves.
"""

from __future__ import annotations

from incidents.ingest.payload import (
    PayloadError,
    nested_details,
    optional,
    require,
    severity_from_word,
    short_hash,
    text,
)


def parse(document: dict, integration) -> dict:
    title = require(document, "title", str)
    if not title.strip():
        raise PayloadError("title", "is required")
    dedup_key = optional(document, "dedup_key", str, "").strip()
    if len(dedup_key) > 255:
        raise PayloadError("dedup_key", "must be at most 255 characters")
    status = optional(document, "status", str, "firing")
    if status not in ("firing", "resolved"):
        raise PayloadError("status", "must be firing or resolved")
    severity = document.get("severity")
    if isinstance(severity, bool) or not isinstance(severity, int | str | None):
        raise PayloadError("severity", "must be 1 to 5 or a severity word")
    fingerprint = dedup_key or short_hash(title.strip())
    description = text(optional(document, "description", str, ""), 10_000)
    return {
        "incident_key": f"gen:{fingerprint}",
        "title": title.strip()[:255],
        "summary": description,
        "action": "alerts",
        "alerts": [
            {
                "fingerprint": fingerprint,
                "status": status,
                "severity": severity_from_word(severity, integration, "severity"),
                "summary": title.strip()[:1024],
                "labels": {},
                "annotations": {"description": description} if description else {},
                "details": nested_details(document.get("details"), "details"),
                "source_url": text(optional(document, "source_url", str, ""), 2048),
                "starts_at": None,
                "ends_at": None,
            }
        ],
    }
