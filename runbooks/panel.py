"""The "Runbooks" panel of the incident room: attached runbooks as checklists."""

from __future__ import annotations

from accounts.permissions import Action, can
from runbooks.models import ActionRun, Runbook, RunbookRun, StepCheck


def runbook_panel_context(incident, user) -> dict | None:
    if not can(user, incident.team_id, Action.VIEW):
        return None
    runs = list(
        RunbookRun.objects.filter(incident=incident)
        .select_related("runbook")
        .prefetch_related("runbook__steps")
    )
    checks = {
        (c.run_id, c.step_id): c
        for c in StepCheck.objects.filter(run__incident=incident).select_related("checked_by")
    }
    latest_actions: dict[tuple[int, int], ActionRun] = {}
    for action_run in ActionRun.objects.filter(run__incident=incident).order_by(
        "requested_at", "id"
    ):
        latest_actions[(action_run.run_id, action_run.step_id)] = action_run
    checklists = []
    for run in runs:
        steps = [
            {
                "step": step,
                "check": checks.get((run.pk, step.pk)),
                "action_run": latest_actions.get((run.pk, step.pk)),
            }
            for step in run.runbook.steps.all()
        ]
        done = sum(1 for s in steps if s["check"])
        checklists.append({"run": run, "steps": steps, "done": done, "total": len(steps)})
    can_respond = can(user, incident.team_id, Action.RESPOND)
    attachable = []
    if can_respond:
        attached_ids = {r.runbook_id for r in runs}
        attachable = [
            rb
            for rb in Runbook.objects.filter(team_id=incident.team_id, is_active=True).only(
                "id", "title"
            )
            if rb.pk not in attached_ids
        ]
    return {"checklists": checklists, "can_respond": can_respond, "attachable": attachable}
