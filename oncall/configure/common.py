"""What the on-call configuration verbs share: field lists, limits, the audit helper."""

from __future__ import annotations

from accounts.audit import record as audit
from accounts.models import Membership, Team
from incidents.actors import Actor

POLICY_FIELDS = ("name", "is_team_default", "repeat_last_level", "severity_rules")
ROTATION_FIELDS = ("name", "time_zone", "shift_hours", "handoff_time", "start_date")
CHANNEL_FIELDS = ("name", "kind", "target", "secret", "is_active")
MAX_SHIFT_HOURS = 24 * 366
MAX_TIMEOUT_MINUTES = 7 * 24 * 60


def audit_act(action: str, *, actor: Actor, team: Team | None, target: str, data=None) -> None:
    audit(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=team,
        target=target,
        data=data or {},
    )


def members_of(team_id: int) -> set[int]:
    return set(Membership.objects.filter(team_id=team_id).values_list("user_id", flat=True))
