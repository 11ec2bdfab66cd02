"""Demo post-mortems for `manage.py seed_demo`: one awaiting review, one published.

Runs after the demo incidents exist (dedup keys demo-4 and demo-5); idempotent.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidents.actors import Actor
from incidents.models import Incident
from postmortems.models import Status, WhyNode
from postmortems.services import (
    add_action_item,
    add_factor,
    add_why,
    create_draft,
    edit_why,
    publish,
    submit_for_review,
    update_postmortem,
)


def _fill(postmortem, author, *, summary, impact, what_went_wrong, whys, factors, items) -> None:
    update_postmortem(
        postmortem=postmortem,
        actor=Actor.of_user(author),
        changes={"summary": summary, "impact": impact, "what_went_wrong": what_went_wrong},
    )
    parent = None
    for question, answer, root in whys:
        parent = add_why(
            postmortem=postmortem,
            actor=Actor.of_user(author),
            question=question,
            answer=answer,
            parent=parent,
        )
        if root:
            edit_why(
                node=parent,
                actor=Actor.of_user(author),
                question=question,
                answer=answer,
                is_root_cause=True,
            )
    for factor, description in factors:
        add_factor(
            postmortem=postmortem,
            actor=Actor.of_user(author),
            factor=factor,
            description=description,
        )
    for title, days, priority in items:
        add_action_item(
            postmortem=postmortem,
            actor=Actor.of_user(author),
            title=title,
            owner=author,
            due_date=timezone.localdate() + timedelta(days=days),
            priority=priority,
        )


def seed_demo_postmortems(*, team, author) -> int:
    """``author`` must be a manager of the team (the demo admin is). Returns how many filled."""
    filled = 0
    rate_limit = Incident.objects.filter(team=team, dedup_key="demo-4").first()
    if rate_limit is not None and rate_limit.resolved_at is not None:
        postmortem, _ = create_draft(incident=rate_limit, actor=Actor.of_user(author))
        if (
            postmortem.status == Status.DRAFT
            and not WhyNode.objects.filter(postmortem=postmortem).exists()
        ):
            _fill(
                postmortem,
                author,
                summary="The sales avatar stopped answering: every model call got HTTP 429.",
                impact="Website visitors got no reply for the whole outage; leads were lost.",
                what_went_wrong="Nothing warned before the quota ran out, and no fallback "
                "provider was configured.",
                whys=[
                    (
                        "Why did the avatar stop answering?",
                        "The provider refused every call.",
                        False,
                    ),
                    ("Why did the provider refuse?", "Our monthly token quota ran out.", False),
                    (
                        "Why did the quota run out unnoticed?",
                        "No alert watched quota headroom.",
                        True,
                    ),
                ],
                factors=[
                    ("api_limits", "Monthly token quota at the provider."),
                    ("monitoring_gap", "Quota headroom was not measured."),
                ],
                items=[("Alert at 80 % of the monthly quota", 7, 1), ("Automate failover", -3, 2)],
            )
            submit_for_review(postmortem=postmortem, actor=Actor.of_user(author))
            filled += 1
    upgrade = Incident.objects.filter(team=team, dedup_key="demo-5").first()
    if upgrade is not None and upgrade.resolved_at is not None:
        postmortem, _ = create_draft(incident=upgrade, actor=Actor.of_user(author))
        if (
            postmortem.status == Status.DRAFT
            and not WhyNode.objects.filter(postmortem=postmortem).exists()
        ):
            _fill(
                postmortem,
                author,
                summary="Transcription errors rose after the speech model upgrade.",
                impact="Callers repeated themselves; a third of calls went to humans.",
                what_went_wrong="The upgrade shipped without our custom vocabulary and the "
                "evaluation did not notice.",
                whys=[
                    (
                        "Why did transcription get worse?",
                        "The new model mishears product names.",
                        False,
                    ),
                    ("Why was it not caught?", "The evaluation set had no product names.", True),
                ],
                factors=[("version_conflict", "New speech model without our custom vocabulary.")],
                items=[("Add product names to the evaluation set", 14, 2)],
            )
            submit_for_review(postmortem=postmortem, actor=Actor.of_user(author))
            # The team approves post-mortems by another person than the submitter: the seed
            # plays that reviewer.
            publish(postmortem=postmortem, actor=Actor.system("demo reviewer"))
            filled += 1
    return filled
