"""A person leaving a team leaves its rotations and escalation levels too (accounts calls this
inside the removing transaction), so nobody is paged for a team they no longer belong to."""

from __future__ import annotations

from oncall.configure.common import audit_act
from oncall.models import EscalationLevel, Rotation, RotationMember


def forget_removed_member(*, team, user, actor) -> None:
    rotations = []
    ids = RotationMember.objects.filter(rotation__team=team, user=user).values("rotation_id")
    for rotation in Rotation.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        RotationMember.objects.filter(rotation=rotation, user=user).delete()
        # Renumber so the remaining order stays 0..n-1 (the shift maths counts positions).
        for position, member in enumerate(rotation.members.order_by("position", "id")):
            if member.position != position:
                member.position = position
                member.save(update_fields=["position"])
        rotations.append(rotation.pk)
    levels = list(EscalationLevel.objects.filter(policy__team=team, users=user))
    for level in levels:
        level.users.remove(user)
    if rotations or levels:
        audit_act(
            "oncall.member_forgotten",
            actor=actor,
            team=team,
            target=user.get_username(),
            data={"rotations": rotations, "levels": [level.pk for level in levels]},
        )
