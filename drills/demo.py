"""A demo game day for `manage.py seed_demo`: one finished drill last month. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from drills.models import Drill, DrillStatus, Scenario
from monitoring.models import Probe


def seed_demo_drills(*, team, author) -> str:
    probe = (
        Probe.objects.filter(service__team=team).select_related("service").order_by("pk").first()
    )
    if probe is None or Drill.objects.filter(team=team, name="Demo game day").exists():
        return ""
    started = timezone.now() - timedelta(days=30)
    Drill.objects.create(
        team=team,
        service=probe.service,
        name="Demo game day",
        scenario=Scenario.PROBE_DOWN,
        probe=probe,
        starts_at=started,
        started_at=started,
        ended_at=started + timedelta(minutes=30),
        duration_minutes=30,
        status=DrillStatus.FINISHED,
        findings="The runbook's restart step named the old host\nL3 was paged before L2 answered",
        created_by=author,
    )
    return "a finished game day"
