"""Payload builders of the ingestion tests (wire formats); ``make_integration`` lives in
tests/factories.py and is re-exported here."""

from __future__ import annotations

import json
from pathlib import Path

from tests.factories import make_integration

__all__ = ["FIXTURES", "am_alert", "am_group", "fixture", "make_integration"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def am_alert(fingerprint: str, status: str = "firing", **labels) -> dict:
    labels = {"alertname": "ChatLatencyHigh", "instance": fingerprint, **labels}
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"slow replies on {fingerprint}"},
        "startsAt": "2026-11-25T09:51:03Z",
        "endsAt": "2026-11-25T10:11:03Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org/graph",
        "fingerprint": fingerprint,
    }


def am_group(*alerts, group_key: str = '{}:{alertname="ChatLatencyHigh"}') -> dict:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "vigil",
        "groupLabels": {"alertname": "ChatLatencyHigh"},
        "commonLabels": {"alertname": "ChatLatencyHigh"},
        "commonAnnotations": {"summary": "Chat replies slower than 3 s"},
        "externalURL": "http://alertmanager.example.org",
        "alerts": list(alerts),
    }
