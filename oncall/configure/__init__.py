"""The verbs of on-call configuration: escalation policies with their levels, the policy of a
service, rotations, overrides and swaps, team channels, and a person's own contact methods.

Keyword-only, one transaction each, rows locked when they change, one audit row per act
(``oncall.policy_created``, ``oncall.policy_updated``, ``oncall.policy_deleted``,
``oncall.service_policy_set``, ``oncall.rotation_created``, ``oncall.rotation_updated``,
``oncall.override_added``, ``oncall.override_removed``, ``oncall.channel_created``,
``oncall.channel_updated``, ``oncall.channel_tested``, ``contact_method.added``,
``contact_method.removed``, ``contact_method.moved``, ``contact_method.verified``,
``notification_rule.added``, ``notification_rule.removed``, ``oncall.action_created``,
``oncall.action_updated``, ``oncall.action_deleted``, ``oncall.action_tested``). Views and
the API check roles; these check state.
"""

from oncall.configure.actions import (
    ACTION_FIELDS,
    create_action,
    delete_action,
    try_action,
    update_action,
)
from oncall.configure.common import (
    CHANNEL_FIELDS,
    MAX_SHIFT_HOURS,
    MAX_TIMEOUT_MINUTES,
    POLICY_FIELDS,
    ROTATION_FIELDS,
)
from oncall.configure.destinations import (
    add_contact_method,
    check_destination,
    move_contact_method,
    remove_contact_method,
    save_channel,
    send_channel_test,
    verify_contact_method,
)
from oncall.configure.policies import (
    LevelSpec,
    create_policy,
    delete_policy,
    set_service_policy,
    update_policy,
)
from oncall.configure.rotations import (
    add_override,
    create_rotation,
    remove_override,
    rotation_version,
    update_rotation,
)
from oncall.configure.rules import add_notification_rule, remove_notification_rule

__all__ = [
    "ACTION_FIELDS", "create_action", "delete_action", "try_action", "update_action",
    "CHANNEL_FIELDS", "MAX_SHIFT_HOURS", "MAX_TIMEOUT_MINUTES", "POLICY_FIELDS",
    "ROTATION_FIELDS", "LevelSpec", "add_contact_method", "add_notification_rule",
    "remove_notification_rule", "add_override", "check_destination",
    "create_policy", "create_rotation", "delete_policy", "move_contact_method",
    "remove_contact_method", "remove_override", "rotation_version", "save_channel",
    "send_channel_test", "set_service_policy", "update_policy",
    "update_rotation", "verify_contact_method",
]  # fmt: skip
