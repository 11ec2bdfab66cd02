"""On-call set-up pages: escalation policies (with levels and severity rules in one form, and a
preview of who would be paged), the policy of a service, rotations with their calendar,
overrides and swaps, team channels with a test message, and a person's own contact methods.

Reading needs membership; writing needs the manager role in the team (403), except contact
methods, which every signed-in person manages for themself. Another team's object is a 404.
"""

from oncall.pages.actions import action_delete, action_edit, action_new, action_test
from oncall.pages.channels import channel_edit, channel_new, channel_test
from oncall.pages.me import (
    contact_method_move,
    contact_method_remove,
    contact_method_verify,
    contact_methods,
    my_profile,
    notification_rule_add,
    notification_rule_remove,
)
from oncall.pages.policies import (
    escalation_section,
    policy_delete,
    policy_edit,
    policy_new,
    preview_pages,
    service_policy,
    setup_overview,
)
from oncall.pages.rotations import (
    override_add,
    override_remove,
    rotation_edit,
    rotation_new,
    shift_swap,
)

__all__ = [
    "action_delete", "action_edit", "action_new", "action_test",
    "channel_edit", "channel_new", "channel_test", "contact_method_move",
    "contact_method_remove", "contact_method_verify", "contact_methods", "escalation_section",
    "my_profile", "notification_rule_add", "notification_rule_remove", "override_add", "override_remove", "policy_delete", "policy_edit",
    "policy_new", "preview_pages", "rotation_edit", "rotation_new", "service_policy",
    "setup_overview", "shift_swap",
]  # fmt: skip
