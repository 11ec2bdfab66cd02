"""Alertmanager deliveries applied through the real ingest path (parse + apply)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from django.db import transaction

from incidents.actors import Actor
from incidents.ingest import alertmanager
from incidents.ingest.applying import apply_normalized
from incidents.ingest.services import create_integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "alertmanager_v4_firing.json"


def alertmanager_document(*, status: str = "firing", **common_labels) -> dict:
    document = json.loads(FIXTURE.read_text())
    document["commonLabels"].update(common_labels)
    for alert in document["alerts"]:
        alert["labels"].update(common_labels)
        if status == "resolved":
            alert["status"] = "resolved"
            alert["endsAt"] = "2026-11-25T10:30:00Z"
    document["status"] = status
    return copy.deepcopy(document)


def alertmanager_integration(service):
    integration, _token = create_integration(
        service=service, kind="alertmanager", name="prometheus", actor=Actor.system("test")
    )
    return integration


def deliver(integration, document: dict):
    with transaction.atomic():
        return apply_normalized(
            integration=integration, normalized=alertmanager.parse(document, integration)
        )
