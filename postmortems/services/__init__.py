"""The verbs of post-mortems, split by concept: drafting, the review workflow, the 5-Why tree
and follow-up (contributing factors, action items)."""

from postmortems.services.comments import add_review_comment
from postmortems.services.drafting import create_draft, draft_on_resolve
from postmortems.services.errors import PostmortemError
from postmortems.services.followup import (
    add_action_item,
    add_factor,
    remove_factor,
    update_action_item,
)
from postmortems.services.team_settings import set_self_approval
from postmortems.services.whys import add_why, delete_why, edit_why, move_why, why_tree
from postmortems.services.workflow import (
    EDITABLE_FIELDS,
    check_editable,
    edit_action,
    may_edit,
    missing_sections,
    publish,
    return_to_draft,
    self_approval_refused,
    submit_for_review,
    update_postmortem,
)

__all__ = [
    "EDITABLE_FIELDS",
    "PostmortemError",
    "add_action_item",
    "add_review_comment",
    "add_factor",
    "add_why",
    "create_draft",
    "delete_why",
    "draft_on_resolve",
    "check_editable",
    "edit_action",
    "edit_why",
    "may_edit",
    "missing_sections",
    "move_why",
    "publish",
    "remove_factor",
    "return_to_draft",
    "self_approval_refused",
    "set_self_approval",
    "submit_for_review",
    "update_action_item",
    "update_postmortem",
    "why_tree",
]
