"""Probe and heartbeat states shown per service on the services overview."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count

from monitoring.models import Heartbeat, Probe


def monitor_facts(service_ids: list[int]) -> dict[int, list[str]]:
    facts: dict[int, list[str]] = defaultdict(list)
    for model, noun in ((Probe, "probe"), (Heartbeat, "heartbeat")):
        rows = (
            model.objects.filter(service_id__in=service_ids)
            .values_list("service_id", "state")
            .annotate(n=Count("id"))
            .order_by("service_id", "state")
        )
        for service_id, state, n in rows:
            facts[service_id].append(f"{n} {noun}{'s' if n != 1 else ''} {state}")
    return dict(facts)
