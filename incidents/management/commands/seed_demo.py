"""A demo team with services and incidents in every state, so a first run shows a living system.

Idempotent: rows are found by natural keys (team slug, service slug, incident dedup_key) and
created only when missing, so running it twice leaves the same data.
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role, Team, User
from incidents import services
from incidents.actors import Actor
from incidents.demo import demo_seeders
from incidents.models import EventDispatch, Incident, Service, Source

DEMO_SERVICES = [
    (
        "Sales avatar",
        "sales-avatar",
        "Chat agent answering prospects on the website.",
        30,
        5,
        "1200.00",
    ),
    (
        "Support voice bot",
        "support-voice",
        "Voice assistant on the support hotline.",
        60,
        15,
        "800.00",
    ),
    (
        "Knowledge search",
        "knowledge-search",
        "Retrieval API the agents use to answer.",
        240,
        60,
        "150.00",
    ),
]

# (dedup_key, service slug, title, severity, hours ago, path through the lifecycle)
DEMO_INCIDENTS = [
    ("demo-1", "sales-avatar", "Sales avatar returns 502 for every chat", 5, 0.2, []),
    ("demo-2", "support-voice", "Voice bot latency p95 above 6 s", 3, 1.5, ["acknowledge"]),
    (
        "demo-3",
        "knowledge-search",
        "Retrieval answers drift from the knowledge base",
        2,
        5,
        ["acknowledge", "mitigate"],
    ),
    (
        "demo-4",
        "sales-avatar",
        "Model provider rate limit exhausted",
        4,
        30,
        ["acknowledge", "mitigate", "resolve"],
    ),
    (
        "demo-5",
        "support-voice",
        "Transcription errors after model upgrade",
        3,
        72,
        ["acknowledge", "resolve"],
    ),
    ("demo-6", "knowledge-search", "Nightly index rebuild failed", 1, 120, ["resolve", "reopen"]),
]


class Command(BaseCommand):
    help = "Create (or complete) the demo team, its admin, services and incidents. Safe to rerun."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=os.environ.get("VIGIL_DEMO_PASSWORD", "vigil-demo")
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any team exists already (used by make run).",
        )

    @transaction.atomic
    def handle(self, *args, password: str, if_empty: bool = False, **options):
        if if_empty and Team.objects.exists():
            self.stdout.write("Teams exist already: demo data not added.")
            return
        team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "Demo team"})
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={
                "email": "admin@example.com",
                "display_name": "Demo Admin",
                "is_staff": True,
                "is_superuser": True,
            },
        )
        if created:
            admin.set_password(password)
            admin.save(update_fields=["password"])
        Membership.objects.get_or_create(user=admin, team=team, defaults={"role": Role.ADMIN})
        responder, created = User.objects.get_or_create(
            username="oncall",
            defaults={"email": "oncall@example.com", "display_name": "Olivia On-call"},
        )
        if created:
            responder.set_password(password)
            responder.save(update_fields=["password"])
        Membership.objects.get_or_create(
            user=responder, team=team, defaults={"role": Role.RESPONDER}
        )

        by_slug = {}
        for name, slug, description, rto, rpo, cost in DEMO_SERVICES:
            by_slug[slug], _ = Service.objects.get_or_create(
                slug=slug,
                defaults={
                    "team": team,
                    "name": name,
                    "description": description,
                    "rto_minutes": rto,
                    "rpo_minutes": rpo,
                    "downtime_cost_per_hour": Decimal(cost),
                },
            )

        made = 0
        for key, slug, title, severity, hours_ago, path in DEMO_INCIDENTS:
            service = by_slug[slug]
            if Incident.objects.filter(service=service, dedup_key=key).exists():
                continue
            made += 1
            self._play(service, key, title, severity, hours_ago, path, admin)

        for name, seeder in demo_seeders():
            added = seeder(team=team, author=admin)
            if added:
                self.stdout.write(f"  {name.split('.')[0]}: {added}")

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: team 'demo', {len(by_slug)} services, {made} new incidents.\n"
                f"  Log in as admin / {password}  (responder: oncall / {password})"
            )
        )

    def _play(self, service, key, title, severity, hours_ago, path, admin) -> None:
        """Open an incident in the past and walk it through its lifecycle, spacing the steps."""
        started = timezone.now() - timedelta(hours=hours_ago)
        person = Actor.of_user(admin)
        incident, _ = services.open_incident(
            service=service,
            title=title,
            severity=severity,
            dedup_key=key,
            source=Source.SYSTEM,
            actor=Actor.system("demo"),
            summary=f"Demo incident: {title.lower()}.",
        )
        steps = {
            "acknowledge": services.acknowledge,
            "mitigate": services.mitigate,
            "resolve": services.resolve,
            "reopen": services.reopen,
        }
        for verb in path:
            steps[verb](incident=incident, actor=person)
        # Shift the whole story into the past, keeping the spacing plausible.
        step = timedelta(minutes=max(3, hours_ago * 6))
        times = {"triggered_at": started, "last_seen_at": started}
        if "acknowledge" in path:
            times["acknowledged_at"] = started + step
        if "mitigate" in path:
            times["mitigated_at"] = started + 2 * step
        if "resolve" in path and "reopen" not in path:
            times["resolved_at"] = started + 3 * step
        Incident.objects.filter(pk=incident.pk).update(updated_at=timezone.now(), **times)
        _backdate_timeline(incident, started, step)


def _backdate_timeline(incident: Incident, started, step) -> None:
    """Demo data only: recreate the timeline with past times (entries are never updated).

    The entries' outbox rows go with them (cascade) and are recreated beside the new entries:
    the workers, once started, still escalate the demo incidents (otherwise the escalation
    auditor finds them never escalated and repairs them with a warning on the first start).
    """
    entries = list(incident.timeline.order_by("id"))
    dispatches: dict[int, list[EventDispatch]] = {}
    for dispatch in EventDispatch.objects.filter(entry__in=entries):
        dispatches.setdefault(dispatch.entry_id, []).append(dispatch)
    incident.timeline.all().delete()
    for index, entry in enumerate(entries):
        old_pk = entry.pk
        entry.pk = None
        entry.at = started + index * step
        entry.save(force_insert=True)
        for dispatch in dispatches.get(old_pk, []):
            dispatch.pk, dispatch.entry = None, entry
            dispatch.save(force_insert=True)
