"""Factories for ingestion tests. Integrations are made through the service, to get a token."""

from __future__ import annotations

import json
from pathlib import Path

from incidents.actors import Actor
from incidents.ingest.services import create_integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def make_integration(service, kind: str, **kwargs):
    kwargs.setdefault("name", f"{kind} {service.pk}-{kwargs.get('suffix', '')}")
    kwargs.pop("suffix", None)
    extra = {k: kwargs.pop(k) for k in ("default_severity", "timestamp_header") if k in kwargs}
    integration, token = create_integration(
        service=service, kind=kind, actor=Actor.system("tests"), **kwargs
    )
    if extra:
        for key, value in extra.items():
            setattr(integration, key, value)
        integration.save(update_fields=list(extra))
    return integration, token


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
