"""Demo history for `manage.py seed_demo`: two quarters of resolved incidents, getting better,
so the analytics pages and the ROI panel have something to show. Idempotent (dedup keys)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident, Service, Source, Status

HISTORY = 48
SOURCES = [Source.PROBE, Source.INTEGRATION, Source.MANUAL, Source.INTEGRATION]


def seed_demo_analytics(*, team, author) -> str:
    services = list(Service.objects.filter(team=team).order_by("pk"))
    if not services:
        return ""
    keys = [f"demo-history-{n}" for n in range(HISTORY)]
    if Incident.objects.filter(team=team, dedup_key__in=keys).exists():
        return ""
    now = timezone.now()
    rows = []
    for n, key in enumerate(keys):
        days_ago = 4 + n * 4  # one every four days, back about half a year
        triggered = now - timedelta(days=days_ago, hours=n % 9)
        # Older incidents took longer: the response plan is working.
        recover = timedelta(minutes=25 + days_ago * 1.4 + (n % 5) * 7)
        acknowledged = triggered + timedelta(minutes=2 + days_ago / 25 + n % 3)
        mitigated = triggered + recover * 0.6
        resolved = triggered + recover
        rows.append(
            Incident(
                team=team,
                service=services[n % len(services)],
                title=f"Demo history: {['model timeouts', 'voice bot silent', 'slow answers', 'webhook errors'][n % 4]}",
                severity=1 + (n * 3) % 5,
                status=Status.RESOLVED,
                # Resolved, so the open-incident dedup index does not hold these keys.
                dedup_key=key,
                source=SOURCES[n % len(SOURCES)],
                triggered_at=triggered,
                acknowledged_at=acknowledged,
                acknowledged_by=author,
                mitigated_at=mitigated,
                resolved_at=resolved,
                resolved_by=author,
                last_seen_at=resolved,
                updated_at=resolved,
            )
        )
    Incident.objects.bulk_create(rows)
    return f"{len(rows)} resolved incidents over half a year for the analytics pages"
