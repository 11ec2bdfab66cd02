"""Which policy pages for a service, and the snapshot of it taken when an incident opens."""

from __future__ import annotations

from oncall.models import EscalationPolicy, ServiceEscalation, default_severity_rules


def policy_for_service(service) -> EscalationPolicy | None:
    """The service's own policy, else its team's default policy, else None."""
    link = ServiceEscalation.objects.select_related("policy").filter(service=service).first()
    if link is not None:
        return link.policy
    return EscalationPolicy.objects.filter(team_id=service.team_id, is_team_default=True).first()


def snapshot_policy(policy: EscalationPolicy) -> dict:
    """Everything escalation needs, frozen: later edits of the policy leave this incident alone.

    Rotations are kept by id on purpose: who is on call is decided when the level engages.
    """
    levels = {}
    for level in policy.levels.prefetch_related("users", "channels", "actions").order_by("number"):
        levels[str(level.number)] = {
            "timeout_minutes": level.timeout_minutes,
            "user_ids": sorted(u.pk for u in level.users.all()),
            "rotation_id": level.rotation_id,
            "team_id": level.target_team_id,
            "channel_ids": sorted(c.pk for c in level.channels.all()),
            "actions": [
                {"id": a.pk, "name": a.name, "url": a.url, "body": a.body_template}
                for a in level.actions.all()
            ],
        }
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "repeat_last_level": policy.repeat_last_level,
        "severity_rules": policy.severity_rules or default_severity_rules(),
        "levels": levels,
    }


def rule_for(snapshot: dict, severity: int) -> dict:
    rules = snapshot.get("severity_rules") or default_severity_rules()
    return rules.get(str(severity)) or default_severity_rules()[str(severity)]


def defined_levels(snapshot: dict) -> list[int]:
    return sorted(int(n) for n in snapshot.get("levels", {}))


def next_level_after(snapshot: dict, current: int, stop: int) -> int | None:
    """The next defined level above ``current`` and not above ``stop``; levels a policy leaves
    out are skipped (a policy may have only L1, L2 and L4)."""
    for number in defined_levels(snapshot):
        if current < number <= stop:
            return number
    return None


def first_level_from(snapshot: dict, start: int, stop: int) -> int | None:
    return next_level_after(snapshot, start - 1, stop)
