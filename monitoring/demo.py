"""Demo probes and heartbeats (registered with incidents.demo, run by seed_demo)."""

from __future__ import annotations

from django.conf import settings

from incidents.models import Service
from monitoring.models import Heartbeat, Probe


def seed_demo_monitors(*, team, author) -> str:
    """A probe on Vigil's own /healthz (so a first run shows probes working) and a heartbeat."""
    service = Service.objects.filter(team=team, slug="sales-avatar").first()
    search = Service.objects.filter(team=team, slug="knowledge-search").first()
    added = []
    if service and not Probe.objects.filter(service=service, name="Vigil health").exists():
        Probe.objects.create(
            service=service,
            name="Vigil health",
            url=f"{settings.BASE_URL}/healthz",
            expected_text='"ok"',
            interval_seconds=60,
            timeout_seconds=5,
        )
        added.append("probe 'Vigil health'")
    if (
        search
        and not Heartbeat.objects.filter(service=search, name="Nightly index rebuild").exists()
    ):
        heartbeat = Heartbeat.objects.create(
            service=search, name="Nightly index rebuild", period_seconds=86400, grace_seconds=3600
        )
        added.append(f"heartbeat (ping {settings.BASE_URL}/ping/{heartbeat.uuid})")
    return ", ".join(added)
