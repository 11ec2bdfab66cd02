"""Role checks and small helpers shared by the set-up pages of every app."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.models import Membership, Role, Team
from accounts.permissions import Action, can

_ROLE_NAMES = {
    Action.VIEW: "a member",
    Action.RESPOND: "a responder",
    Action.CONFIGURE: "a manager",
    Action.ADMINISTER: "an admin",
}


def require_role(user, team: Team | int, action: Action, *, doing: str) -> None:
    """Raise PermissionDenied (403, shown in #flash under htmx) unless the role allows it."""
    if not can(user, team, action):
        raise PermissionDenied(f"{doing} needs you to be {_ROLE_NAMES[action]} of this team.")


def teams_where(user, action: Action):
    """Teams where the user's role allows ``action`` (superusers: every team)."""
    if user.is_superuser:
        return Team.objects.all()
    return Team.objects.filter(
        pk__in=Membership.objects.filter(user=user, role__gte=Role(action.value)).values("team_id")
    )


def error_to_form(form, exc) -> None:
    """Show a service's refusal next to its field: services name it as ``field: problem``."""
    field, sep, problem = exc.message.partition(": ")
    if sep and field in form.fields:
        form.add_error(field, problem)
    else:
        form.add_error(None, exc.message)
