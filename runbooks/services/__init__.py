"""The verbs of runbooks, split by concept: editing (revisions, review), matching (which
runbooks attach to an incident), runs (checklists and automated actions) and search."""

from runbooks.services.editing import (
    RunbookConflict,
    RunbookError,
    RunbookInput,
    StepInput,
    UnknownRunbook,
    create_runbook,
    mark_reviewed,
    parse_label_matchers,
    revision_diff,
    runbook_as_text,
    update_runbook,
)
from runbooks.services.matching import (
    attach_matching_runbooks,
    attach_runbook,
    labels_for,
    runbook_matches,
)
from runbooks.services.runs import (
    execute_action_run,
    render_action_payload,
    request_action,
    sweep_action_runs,
    tick_step,
    untick_step,
)

__all__ = [
    "RunbookConflict",
    "RunbookError",
    "RunbookInput",
    "StepInput",
    "UnknownRunbook",
    "attach_matching_runbooks",
    "attach_runbook",
    "create_runbook",
    "execute_action_run",
    "labels_for",
    "mark_reviewed",
    "parse_label_matchers",
    "render_action_payload",
    "request_action",
    "revision_diff",
    "runbook_as_text",
    "runbook_matches",
    "sweep_action_runs",
    "tick_step",
    "untick_step",
    "update_runbook",
]
