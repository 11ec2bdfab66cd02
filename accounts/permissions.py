"""May this user do X in this team? The one place that answers it.

Actions map to the lowest role that may perform them; roles are ordered, so a manager may do
everything a responder may.
"""

from __future__ import annotations

from enum import Enum

from accounts.models import Membership, Role, Team


class Action(Enum):
    VIEW = Role.VIEWER  # read incidents, timelines, post-mortems
    RESPOND = Role.RESPONDER  # acknowledge, resolve, add notes, declare incidents
    CONFIGURE = Role.MANAGER  # services, integrations, policies, runbooks, publish post-mortems
    ADMINISTER = Role.ADMIN  # members and roles, API tokens of others, team settings


def role_in(user, team: Team | int) -> Role | None:
    """The user's role in the team, or None when not a member. Superusers are admins everywhere."""
    if not getattr(user, "is_authenticated", False):
        return None
    team_id = team.pk if isinstance(team, Team) else team
    cache = user.__dict__.setdefault("_vigil_roles", {})
    if team_id not in cache:
        role = (
            Membership.objects.filter(user=user, team_id=team_id)
            .values_list("role", flat=True)
            .first()
        )
        if role is None and user.is_superuser:
            role = Role.ADMIN
        cache[team_id] = Role(role) if role is not None else None
    return cache[team_id]


def can(user, team: Team | int, action: Action) -> bool:
    role = role_in(user, team)
    return role is not None and role >= action.value


def team_ids_of(user) -> list[int]:
    """Ids of the teams whose data the user may see."""
    if not getattr(user, "is_authenticated", False):
        return []
    if user.is_superuser:
        return list(Team.objects.values_list("pk", flat=True))
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
