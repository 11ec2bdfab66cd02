"""Creating and editing runbooks. Every save keeps a revision and an audit row."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.actors import Actor
from accounts.models import Team
from config.errors import InvalidInput
from incidents.models import Service
from runbooks.models import Runbook, RunbookRevision, RunbookStep
from runbooks.search import refresh_search_document


class RunbookError(InvalidInput):
    """A runbook request that cannot be carried out; the message says why (400)."""


class RunbookConflict(RunbookError):
    """The request clashes with work in flight (an action already running): 409."""

    status, code = 409, "conflict"


class UnknownRunbook(RunbookError):
    """A step or runbook that is not part of what the request names (another runbook's step,
    another team's runbook): 404, like any object the caller cannot see."""

    status, code = 404, "not_found"


@dataclass
class StepInput:
    title: str
    body: str = ""
    action_url: str = ""
    action_body: str = ""
    # None keeps the stored secret (forms never show it again); "" clears it.
    action_secret: str | None = None
    run_automatically: bool = False
    id: int | None = None


@dataclass
class RunbookInput:
    title: str
    body: str = ""
    service_ids: list[int] = field(default_factory=list)
    match_labels: dict[str, str] = field(default_factory=dict)
    match_title: str = ""
    match_dedup_key: str = ""
    min_severity: int = 1
    max_severity: int = 5
    is_active: bool = True
    review_interval_days: int = 90
    steps: list[StepInput] = field(default_factory=list)


_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_label_matchers(text: str) -> dict[str, str]:
    """``alertname=HighLatency`` lines (or comma-separated) to a dict; patterns may use * and ?."""
    matchers: dict[str, str] = {}
    for raw in re.split(r"[\n,]", text or ""):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip().strip('"')
        if not sep or not _LABEL_NAME.match(name) or not value:
            raise RunbookError(
                f"label matcher {item!r} must look like name=value, e.g. alertname=HighLatency"
            )
        matchers[name] = value
    return matchers


def _validate(team: Team, data: RunbookInput) -> list[Service]:
    if not data.title.strip():
        raise RunbookError("a runbook needs a title")
    if not (1 <= data.min_severity <= data.max_severity <= 5):
        raise RunbookError(
            f"severity range {data.min_severity}-{data.max_severity} must lie within 1-5, "
            "lowest first"
        )
    if data.review_interval_days < 1:
        raise RunbookError("the review interval must be at least one day")
    services = list(Service.objects.filter(team=team, pk__in=data.service_ids))
    if len(services) != len(set(data.service_ids)):
        raise RunbookError("every service must belong to the runbook's team")
    for number, step in enumerate(data.steps, start=1):
        if not step.title.strip():
            raise RunbookError(f"step {number} needs a title")
        if step.action_body.strip():
            try:
                parsed = json.loads(step.action_body)
            except json.JSONDecodeError as exc:
                raise RunbookError(f"step {number}: the action body is not JSON ({exc})") from None
            if not isinstance(parsed, dict):
                raise RunbookError(f"step {number}: the action body must be a JSON object")
        if (step.action_body.strip() or step.run_automatically) and not step.action_url:
            raise RunbookError(f"step {number}: an action needs a URL")
        if step.action_url and not step.action_url.startswith(("http://", "https://")):
            raise RunbookError(f"step {number}: the action URL must start with http:// or https://")
    return services


def runbook_as_text(runbook: Runbook) -> str:
    """The runbook as plain text: what a revision stores and what diffs compare."""
    services = ", ".join(sorted(s.name for s in runbook.services.all())) or "(any)"
    lines = [
        f"# {runbook.title}",
        "",
        f"Services: {services}",
        f"Severity: {runbook.min_severity}-{runbook.max_severity}",
        f"Labels: {runbook.matcher_text().replace(chr(10), ', ') or '(none)'}",
        f"Title pattern: {runbook.match_title or '(none)'}",
        f"Dedup key pattern: {runbook.match_dedup_key or '(none)'}",
        f"Active: {'yes' if runbook.is_active else 'no'}",
        f"Review every {runbook.review_interval_days} days",
        "",
        *runbook.body.splitlines(),
        "",
    ]
    for number, step in enumerate(runbook.steps.all(), start=1):
        lines.append(f"## Step {number}: {step.title}")
        lines.extend(step.body.splitlines())
        if step.action_url:
            auto = " (runs automatically)" if step.run_automatically else ""
            secret = ", signed" if step.action_secret else ""
            lines.append(f"Action: POST {step.action_url}{secret}{auto}")
            lines.extend(step.action_body.splitlines())
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def revision_diff(older: str, newer: str, *, older_name: str = "", newer_name: str = "") -> list:
    """Unified diff lines with a kind per line ("add", "del", "hunk", "ctx") for display."""
    rows = []
    for line in difflib.unified_diff(
        older.splitlines(), newer.splitlines(), older_name, newer_name, lineterm="", n=2
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        rows.append((kind, line))
    return rows


def _write_steps(runbook: Runbook, steps: list[StepInput]) -> None:
    existing = {s.pk: s for s in runbook.steps.all()}
    kept = set()
    for position, data in enumerate(steps, start=1):
        step = existing.get(data.id) if data.id else None
        if step is None:
            step = RunbookStep(runbook=runbook)
        step.position = position
        step.title = data.title.strip()
        step.body = data.body
        step.action_url = data.action_url.strip()
        step.action_body = data.action_body.strip()
        if data.action_secret is not None:
            step.action_secret = data.action_secret
        step.run_automatically = data.run_automatically and bool(step.action_url)
        step.save()
        kept.add(step.pk)
    runbook.steps.exclude(pk__in=kept).delete()


def _apply(runbook: Runbook, data: RunbookInput, services: list[Service]) -> None:
    runbook.title = data.title.strip()
    runbook.body = data.body
    runbook.match_labels = data.match_labels
    runbook.match_title = data.match_title.strip()
    runbook.match_dedup_key = data.match_dedup_key.strip()
    runbook.min_severity = data.min_severity
    runbook.max_severity = data.max_severity
    runbook.is_active = data.is_active
    runbook.review_interval_days = data.review_interval_days


def _revise(runbook: Runbook, actor: Actor, note: str) -> RunbookRevision:
    runbook = Runbook.objects.prefetch_related("services", "steps").get(pk=runbook.pk)
    return RunbookRevision.objects.create(
        runbook=runbook,
        number=runbook.version,
        author=actor.user_or_none,
        note=note[:200],
        content=runbook_as_text(runbook),
    )


@transaction.atomic
def create_runbook(*, team: Team, data: RunbookInput, actor: Actor) -> Runbook:
    services = _validate(team, data)
    now = timezone.now()
    runbook = Runbook(team=team, updated_by=actor.user_or_none, version=1)
    _apply(runbook, data, services)
    runbook.next_review_at = runbook.review_due_from(now)
    runbook.save()
    runbook.services.set(services)
    _write_steps(runbook, data.steps)
    refresh_search_document(runbook.pk)
    _revise(runbook, actor, "created")
    audit.record(
        action="runbook.created",
        actor=actor,
        team=team,
        target=f"runbook {runbook.pk}: {runbook.title}",
        data={"runbook_id": runbook.pk, "version": 1},
    )
    return runbook


@transaction.atomic
def update_runbook(
    *, runbook: Runbook, data: RunbookInput, actor: Actor, note: str = ""
) -> Runbook:
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    services = _validate(runbook.team, data)
    before = runbook_as_text(
        Runbook.objects.prefetch_related("services", "steps").get(pk=runbook.pk)
    )
    _apply(runbook, data, services)
    reviewed = runbook.last_reviewed_at or runbook.created_at
    runbook.next_review_at = runbook.review_due_from(reviewed)
    runbook.updated_by = actor.user_or_none
    runbook.save()
    runbook.services.set(services)
    _write_steps(runbook, data.steps)
    after = runbook_as_text(
        Runbook.objects.prefetch_related("services", "steps").get(pk=runbook.pk)
    )
    if after == before:
        return runbook  # nothing changed: no new revision, no audit noise
    runbook.version += 1
    runbook.save(update_fields=["version"])
    refresh_search_document(runbook.pk)
    _revise(runbook, actor, note or "edited")
    audit.record(
        action="runbook.updated",
        actor=actor,
        team=runbook.team_id,
        target=f"runbook {runbook.pk}: {runbook.title}",
        data={"runbook_id": runbook.pk, "version": runbook.version},
    )
    return runbook


@transaction.atomic
def mark_reviewed(*, runbook: Runbook, actor: Actor) -> Runbook:
    """The quarterly review: someone read the runbook and confirmed it still holds."""
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    now = timezone.now()
    runbook.last_reviewed_at = now
    runbook.last_reviewed_by = actor.user_or_none
    runbook.next_review_at = runbook.review_due_from(now)
    runbook.save(update_fields=["last_reviewed_at", "last_reviewed_by", "next_review_at"])
    audit.record(
        action="runbook.reviewed",
        actor=actor,
        team=runbook.team_id,
        target=f"runbook {runbook.pk}: {runbook.title}",
        data={"runbook_id": runbook.pk, "next_review_at": runbook.next_review_at.isoformat()},
    )
    return runbook
