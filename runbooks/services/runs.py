"""Following a runbook during an incident: ticking steps and running automated actions."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import outbound
from incidents import services as incident_services
from incidents.actors import Actor
from runbooks.models import ActionRun, ActionState, RunbookRun, RunbookStep, StepCheck
from runbooks.services.editing import RunbookConflict, RunbookError, UnknownRunbook
from runbooks.services.matching import _enqueue_on_commit, enqueue_action_run, labels_for

# A pending action not picked up after this long is re-enqueued (the broker may have lost it).
PENDING_GRACE = timedelta(seconds=30)
# A running action older than the outbound deadline plus this margin lost its worker.
RUNNING_GRACE = timedelta(seconds=60)


def _step_of(run: RunbookRun, step: RunbookStep | int) -> RunbookStep:
    step_id = step.pk if isinstance(step, RunbookStep) else step
    found = RunbookStep.objects.filter(pk=step_id, runbook_id=run.runbook_id).first()
    if found is None:
        raise UnknownRunbook(f"step {step_id} does not belong to runbook “{run.runbook.title}”")
    return found


def _step_label(step: RunbookStep) -> str:
    return f"step {step.position} “{step.title}”"


@transaction.atomic
def tick_step(*, run: RunbookRun, step: RunbookStep | int, actor: Actor) -> StepCheck:
    """Tick a step off (who, when) and note it in the incident timeline. Ticking twice is a no-op."""
    run = (
        RunbookRun.objects.select_for_update().select_related("incident", "runbook").get(pk=run.pk)
    )
    step = _step_of(run, step)
    existing = StepCheck.objects.filter(run=run, step=step).first()
    if existing is not None:
        return existing
    check = StepCheck.objects.create(run=run, step=step, checked_by=actor.user_or_none)
    incident_services.record(
        incident=run.incident,
        kind="runbook_step_checked",
        actor=actor,
        message=f"Step {step.position} “{step.title}” of “{run.runbook.title}” done",
        data={"runbook_id": run.runbook_id, "run_id": run.pk, "step_id": step.pk},
    )
    return check


@transaction.atomic
def untick_step(*, run: RunbookRun, step: RunbookStep | int, actor: Actor) -> None:
    run = (
        RunbookRun.objects.select_for_update().select_related("incident", "runbook").get(pk=run.pk)
    )
    step = _step_of(run, step)
    deleted, _ = StepCheck.objects.filter(run=run, step=step).delete()
    if deleted:
        incident_services.record(
            incident=run.incident,
            kind="runbook_step_unchecked",
            actor=actor,
            message=f"Step {step.position} “{step.title}” of “{run.runbook.title}” unticked",
            data={"runbook_id": run.runbook_id, "run_id": run.pk, "step_id": step.pk},
        )


def request_action(*, run: RunbookRun, step: RunbookStep | int, actor: Actor) -> ActionRun:
    """Queue a step's automated action (the one-click button). Refused while one is in flight."""
    step = _step_of(run, step)
    if not step.has_action:
        raise RunbookError(f"{_step_label(step)} has no automated action")
    try:
        with transaction.atomic():
            action_run = ActionRun.objects.create(
                run=run, step=step, requested_by=actor.user_or_none
            )
            _enqueue_on_commit(action_run.pk)
    except IntegrityError:
        raise RunbookConflict(f"the action of {_step_label(step)} is already running") from None
    return action_run


def render_action_payload(action_run: ActionRun) -> dict:
    """The JSON body of an action: the step's template filled from the incident.

    Filled by ``incidents.outbound.fill_json_template`` (the one template language: ``{{ path }}``
    with ``$name`` aliases), inside parsed JSON strings, so an incident title with quotes cannot
    change the structure of the body.
    """
    run = action_run.run
    incident = run.incident
    step = action_run.step
    context = {
        **outbound.incident_template_context(incident),
        "runbook": {"id": run.runbook_id, "title": run.runbook.title},
        "step": {"id": step.pk, "position": step.position, "title": step.title},
        "labels": labels_for(incident),
        "action_run_id": action_run.pk,
    }
    if step.action_body.strip():
        return outbound.fill_json_template(json.loads(step.action_body), context)
    return {"event": "vigil.runbook_action", **context}


def execute_action_run(*, action_run_id: int) -> ActionRun | None:
    """Send one action run. Claims the row pending -> running first, so a task delivered twice
    sends once; returns None when someone else already claimed it."""
    now = timezone.now()
    claimed = ActionRun.objects.filter(pk=action_run_id, state=ActionState.PENDING).update(
        state=ActionState.RUNNING, started_at=now
    )
    if not claimed:
        return None
    action_run = ActionRun.objects.select_related(
        "run__incident__service", "run__runbook", "step", "requested_by"
    ).get(pk=action_run_id)
    step = action_run.step
    try:
        payload = render_action_payload(action_run)
    except (ValueError, TypeError) as exc:
        result = outbound.DeliveryResult(False, None, f"cannot build the body: {exc}", False)
    else:
        result = outbound.post_json(step.action_url, payload, secret=step.action_secret)
    return _finish(action_run, result)


@transaction.atomic
def _finish(action_run: ActionRun, result: outbound.DeliveryResult) -> ActionRun:
    action_run.state = ActionState.SUCCEEDED if result.ok else ActionState.FAILED
    action_run.finished_at = timezone.now()
    action_run.response_status = result.status
    action_run.error = result.error[:2000]
    action_run.save(update_fields=["state", "finished_at", "response_status", "error"])
    run = action_run.run
    step = action_run.step
    if action_run.automatic:
        actor = Actor.system("runbook automation (L1)")
    elif action_run.requested_by is not None:
        actor = Actor.of_user(action_run.requested_by)
    else:
        actor = Actor.system("runbook automation")
    if result.ok:
        message = f"Action of {_step_label(step)} in “{run.runbook.title}” succeeded (HTTP {result.status})"
    else:
        message = f"Action of {_step_label(step)} in “{run.runbook.title}” failed: {result.error}"
    incident_services.record(
        incident=run.incident,
        kind="runbook_action_succeeded" if result.ok else "runbook_action_failed",
        actor=actor,
        message=message,
        data={
            "runbook_id": run.runbook_id,
            "run_id": run.pk,
            "step_id": step.pk,
            "action_run_id": action_run.pk,
            "status": result.status,
            "automatic": action_run.automatic,
        },
    )
    return action_run


def sweep_action_runs(*, now=None) -> tuple[int, int]:
    """Re-enqueue pending action runs the broker may have lost, and fail running ones whose
    worker died (their result is unknown, so they are not sent again). Safe to run twice.

    Returns ``(re_enqueued, abandoned)``.
    """
    now = now or timezone.now()
    stale_pending = list(
        ActionRun.objects.filter(
            state=ActionState.PENDING, requested_at__lt=now - PENDING_GRACE
        ).values_list("pk", flat=True)[:500]
    )
    for pk in stale_pending:
        # These rows are committed already: send at once, not after the caller's transaction.
        enqueue_action_run(pk)
    deadline = timedelta(seconds=settings.OUTBOUND_TIMEOUT_SECONDS) + RUNNING_GRACE
    abandoned = 0
    for pk in ActionRun.objects.filter(
        state=ActionState.RUNNING, started_at__lt=now - deadline
    ).values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            claimed = ActionRun.objects.filter(pk=pk, state=ActionState.RUNNING).update(
                state=ActionState.FAILED, finished_at=now, error="worker lost; result unknown"
            )
            if claimed:
                action_run = ActionRun.objects.select_related(
                    "run__incident", "run__runbook", "step"
                ).get(pk=pk)
                incident_services.record(
                    incident=action_run.run.incident,
                    kind="runbook_action_failed",
                    actor=Actor.system("runbook automation"),
                    message=f"Action of {_step_label(action_run.step)} in “{action_run.run.runbook.title}” "
                    "lost its worker; result unknown, not retried",
                    data={"action_run_id": pk},
                )
                abandoned += 1
    return len(stale_pending), abandoned
