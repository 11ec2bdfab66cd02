"""Demo rotation and escalation policy (registered with incidents.demo, run by seed_demo)."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import Membership, Role
from oncall.models import EscalationLevel, EscalationPolicy, Rotation, RotationMember


def seed_demo_oncall(*, team, author) -> str:
    if EscalationPolicy.objects.filter(team=team, name="Demo escalation").exists():
        return ""
    rotation = Rotation.objects.create(
        team=team, name="Primary on-call", time_zone="Europe/Berlin", shift_hours=168,
        start_date=timezone.localdate() - timezone.timedelta(days=3),
    )  # fmt: skip
    responders = [
        m.user
        for m in Membership.objects.filter(team=team, role__gte=Role.RESPONDER)
        .select_related("user")
        .order_by("-role")
    ]
    for position, user in enumerate(reversed(responders)):
        RotationMember.objects.create(rotation=rotation, user=user, position=position)
    policy = EscalationPolicy.objects.create(
        team=team, name="Demo escalation", is_team_default=True
    )
    EscalationLevel.objects.create(policy=policy, number=2, timeout_minutes=5, rotation=rotation)
    l3 = EscalationLevel.objects.create(policy=policy, number=3, timeout_minutes=15)
    l3.users.add(author)
    l4 = EscalationLevel.objects.create(policy=policy, number=4, timeout_minutes=30)
    l4.users.add(author)
    return "rotation 'Primary on-call', team default policy 'Demo escalation' (L2-L4)"
