"""Writes on accounts that need more than a save: role changes and removals (audited, the last
admin kept).

Other apps keep people in lists of their own (rotations, escalation levels); they register a
member-removal hook, called inside the removing transaction, instead of being imported here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from accounts import audit
from accounts.actors import Actor
from accounts.models import Membership, Role
from config.errors import Conflict

MemberRemovalHook = Callable[..., None]
_removal_hooks: list[MemberRemovalHook] = []


def register_member_removal_hook(hook: MemberRemovalHook) -> None:
    """``hook(team=..., user=..., actor=...)`` runs in the transaction that removes a member:
    take the person out of the team's own lists (rotations, escalation levels)."""
    if hook not in _removal_hooks:
        _removal_hooks.append(hook)


class MembershipError(Conflict):
    """A membership change the rules refuse; the message says why (409)."""


def _lock_team_admins(team_id: int) -> list[int]:
    # Lock the team's admin rows too, so two demotions cannot both see "another admin left".
    return list(
        Membership.objects.select_for_update()
        .filter(team_id=team_id, role=Role.ADMIN)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def change_role(
    *, membership: Membership, role: Role, actor: Actor, expected: Role | None = None
) -> Membership:
    """Change a member's role and write the audit row. A team always keeps one admin.

    ``expected`` is the role the form showed: if someone changed it since, the change is
    refused rather than applied over theirs (the API sends none)."""
    with transaction.atomic():
        admins = _lock_team_admins(membership.team_id)
        membership = (
            Membership.objects.select_for_update()
            .select_related("user", "team")
            .filter(pk=membership.pk)
            .first()
        )
        if membership is None:
            raise MembershipError("cannot change the role: that person left the team meanwhile")
        old = Role(membership.role)
        if expected is not None and old != expected:
            raise MembershipError(
                f"cannot change {membership.user}'s role: someone made them {old.label} since "
                "you opened the page. Reload and try again."
            )
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


def remove_member(*, membership: Membership, actor: Actor) -> None:
    """Take a person out of a team (never its last admin) and out of the team's rotations and
    escalation levels (the apps' removal hooks), in one transaction."""
    with transaction.atomic():
        admins = _lock_team_admins(membership.team_id)
        locked = (
            Membership.objects.select_for_update()
            .select_related("user", "team")
            .filter(pk=membership.pk)
            .first()
        )
        if locked is None:
            return  # removed a moment ago by someone else: the outcome asked for
        if locked.role == Role.ADMIN and admins == [locked.pk]:
            raise MembershipError(
                f"cannot remove {locked.user}: they are the last admin of {locked.team}; make "
                "someone else admin first"
            )
        for hook in _removal_hooks:
            hook(team=locked.team, user=locked.user, actor=actor)
        audit.record(
            action="membership.removed",
            actor=actor,
            team=locked.team,
            target=locked.user.get_username(),
            data={"user_id": locked.user_id, "role": Role(locked.role).label},
        )
        locked.delete()
