"""Demo runbooks for `manage.py seed_demo`. Idempotent: found by title within the team."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.actors import Actor
from incidents.models import Service
from runbooks.models import Runbook, RunbookStep
from runbooks.services import RunbookInput, StepInput, create_runbook

DEMO_RUNBOOKS = [
    {
        "title": "Model provider rate limit exhausted",
        "services": ["sales-avatar"],
        "match_title": "*rate limit*",
        "min_severity": 3,
        "body": (
            "The LLM provider answers **HTTP 429**: our quota or the provider's capacity is "
            "exhausted.\n\nFirst confirm it is the provider, then fail over, then ask for quota."
        ),
        "steps": [
            ("Confirm the 429s", "Check the provider dashboard and our error-rate panel."),
            ("Fail over to the secondary model", "Moves traffic to the next model endpoint."),
            ("Request a quota raise", "Open a ticket with the provider; link it in the timeline."),
            ("Update the status page", "Say replies may be slower while we switch models."),
        ],
        "action_step": 1,
    },
    {
        "title": "Voice bot latency above target",
        "services": ["support-voice"],
        "labels": {"alertname": "HighLatency"},
        "match_title": "*latency*",
        "body": "Latency p95 above 3 s makes callers hang up. Look for a slow dependency first.",
        "steps": [
            ("Find the slow span", "Open the trace view filtered on the voice bot."),
            ("Shed optional work", "Turn off sentiment analysis in the feature flags."),
            ("Scale the transcription workers", "`kubectl scale deploy/transcribe --replicas=6`"),
        ],
    },
    {
        "title": "Retrieval answers drift from the knowledge base",
        "services": ["knowledge-search"],
        "body": "Answers cite stale or missing documents. Usually a failed index rebuild.",
        "steps": [
            ("Check the last index rebuild", "Look at the nightly heartbeat and its log."),
            ("Rebuild the index", "Run the rebuild job by hand; it takes about 20 minutes."),
        ],
        "overdue": True,
    },
]


def seed_demo_runbooks(*, team, author) -> int:
    """Create the demo runbooks missing from the team; returns how many were created."""
    services = {s.slug: s for s in Service.objects.filter(team=team)}
    created = 0
    for spec in DEMO_RUNBOOKS:
        if Runbook.objects.filter(team=team, title=spec["title"]).exists():
            continue
        steps = [StepInput(title=title, body=body) for title, body in spec["steps"]]
        if "action_step" in spec:
            action = steps[spec["action_step"]]
            action.action_url = "https://automation.example.com/vigil/failover"
            action.action_body = (
                '{"service": "{{ service.slug }}", "incident": "{{ incident.reference }}"}'
            )
        runbook = create_runbook(
            team=team,
            actor=Actor.of_user(author),
            data=RunbookInput(
                title=spec["title"],
                body=spec["body"],
                service_ids=[services[s].pk for s in spec["services"] if s in services],
                match_labels=spec.get("labels", {}),
                match_title=spec.get("match_title", ""),
                min_severity=spec.get("min_severity", 1),
                steps=steps,
            ),
        )
        if spec.get("overdue"):
            # Demo only: show what an overdue quarterly review looks like.
            Runbook.objects.filter(pk=runbook.pk).update(
                next_review_at=timezone.now() - timedelta(days=12)
            )
        created += 1
    # The status-page step asks for a public update (the room's status page panel posts it).
    RunbookStep.objects.filter(runbook__team=team, title="Update the status page").update(
        asks_for="status_update"
    )
    return created
