"""Prometheus Alertmanager webhook, version 4.

Every notification carries the whole group's current state, not a delta. The group (groupKey)
becomes one incident; each alert in it is tracked by its fingerprint. Unknown keys are ignored:
newer Alertmanager versions add some.
"""

from __future__ import annotations

from incidents.ingest.payload import (
    CLAMPED_TIMES,
    MAX_ALERTS,
    SEVERITY_DIGITS,
    PayloadError,
    labels_fingerprint,
    optional,
    require,
    severity_from_word,
    short_hash,
    string_map,
    text,
    timestamp,
)

STATUSES = ("firing", "resolved")


def parse(document: dict, integration, *, key_prefix: str = "am") -> dict:
    group_key = optional(document, "groupKey", str, "")
    if not group_key.strip():
        # Very old senders omit groupKey; their groupLabels identify the group as well.
        group_labels = string_map(document.get("groupLabels"), "groupLabels")
        if not group_labels:
            raise PayloadError("groupKey", "is required")
        group_key = "labels:" + labels_fingerprint(group_labels)
    alerts = require(document, "alerts", list)
    if not alerts:
        raise PayloadError("alerts", "must hold at least one alert")
    if len(alerts) > MAX_ALERTS:
        raise PayloadError("alerts", f"holds {len(alerts)} alerts, at most {MAX_ALERTS}")
    common_labels = string_map(document.get("commonLabels"), "commonLabels")
    common_annotations = string_map(document.get("commonAnnotations"), "commonAnnotations")
    string_map(document.get("groupLabels"), "groupLabels")
    external_url = text(optional(document, "externalURL", str, ""), 2048)

    parsed = [_alert(item, index, integration, external_url) for index, item in enumerate(alerts)]
    first = parsed[0]
    alertname = common_labels.get("alertname") or first["labels"].get("alertname", "")
    summary = common_annotations.get("summary") or first["annotations"].get("summary", "")
    title = ": ".join(part for part in (alertname, summary) if part) or text(
        document.get("title"), 255
    )
    return {
        "incident_key": f"{key_prefix}:{short_hash(group_key)}",
        "group_key": group_key[:1024],
        "title": (title or f"Alert group from {integration.name}")[:255],
        "summary": text(
            common_annotations.get("description") or first["annotations"].get("description")
        ),
        "action": "alerts",
        "alerts": parsed,
    }


def _alert(item, index: int, integration, external_url: str) -> dict:
    field = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise PayloadError(field, "must be an object")
    status = require(item, "status", str, f"{field}.status")
    if status not in STATUSES:
        raise PayloadError(f"{field}.status", "must be firing or resolved")
    labels = string_map(item.get("labels"), f"{field}.labels")
    annotations = string_map(item.get("annotations"), f"{field}.annotations")
    fingerprint = optional(item, "fingerprint", str, "", f"{field}.fingerprint")[:255]
    if not fingerprint:
        fingerprint = labels_fingerprint(labels)
    clamped: dict[str, str] = {}
    starts_at = timestamp(item.get("startsAt"), f"{field}.startsAt", clamped=clamped)
    ends_at = timestamp(item.get("endsAt"), f"{field}.endsAt", clamped=clamped)
    return {
        "fingerprint": fingerprint,
        "status": status,
        "severity": _severity(labels, integration, field),
        "summary": text(annotations.get("summary") or labels.get("alertname")),
        "labels": labels,
        "annotations": annotations,
        "details": {CLAMPED_TIMES: clamped} if clamped else {},
        "source_url": text(
            optional(item, "generatorURL", str, "", f"{field}.generatorURL") or external_url,
            2048,
        ),
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


def _severity(labels: dict[str, str], integration, field: str) -> int:
    # An explicit vigil_severity label wins; a bad one falls back rather than refusing the
    # alert (Alertmanager treats a 400 as final and would drop the whole group).
    explicit = labels.get("vigil_severity", "").strip()
    if explicit in SEVERITY_DIGITS:
        return int(explicit)
    word = labels.get("severity")
    if word is None:
        return integration.default_severity
    return severity_from_word(word, integration, f"{field}.labels.severity")
