"""The team's post-mortem rules that admins set (who may approve)."""

from __future__ import annotations

from django.db import transaction

from accounts import audit
from accounts.actors import Actor
from accounts.models import Team


@transaction.atomic
def set_self_approval(*, team: Team, actor: Actor, allowed: bool) -> Team:
    """Allow or forbid the submitter of a post-mortem to publish it. The caller checked that
    the actor administers the team."""
    team = Team.objects.select_for_update().get(pk=team.pk)
    if team.postmortem_self_approval == bool(allowed):
        return team
    team.postmortem_self_approval = bool(allowed)
    team.save(update_fields=["postmortem_self_approval"])
    audit.record(
        action="team.postmortem_self_approval_changed",
        actor=actor,
        team=team.pk,
        target=f"team {team.slug}",
        data={"allowed": team.postmortem_self_approval},
    )
    return team
