"""Writes on accounts that need more than a save: role changes (audited, last admin kept)."""

from __future__ import annotations

from django.db import transaction

from accounts import audit
from accounts.actors import Actor
from accounts.models import Membership, Role
from config.errors import Conflict


class MembershipError(Conflict):
    """A membership change the rules refuse; the message says why (409)."""


def change_role(*, membership: Membership, role: Role, actor: Actor) -> Membership:
    """Change a member's role and write the audit row. A team always keeps one admin."""
    with transaction.atomic():
        # Lock the team's admin rows too, so two demotions cannot both see "another admin left".
        admins = list(
            Membership.objects.select_for_update()
            .filter(team_id=membership.team_id, role=Role.ADMIN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "team")
            .get(pk=membership.pk)
        )
        old = Role(membership.role)
        if old == role:
            return membership
        if old == Role.ADMIN and admins == [membership.pk]:
            raise MembershipError(
                f"{membership.user} is the last admin of {membership.team}; make someone else "
                "admin first"
            )
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            action="membership.role_changed",
            actor=actor,
            team=membership.team,
            target=membership.user.get_username(),
            data={"user_id": membership.user_id, "old": old.label, "new": role.label},
        )
    return membership
