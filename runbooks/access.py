"""Fetching runbook objects for a user: another team's object is a 404, a weak role a 403."""

from django.http import Http404

from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from config.errors import Forbidden
from runbooks.models import Runbook, RunbookRun


def require(user, team_id: int, action: Action) -> None:
    if not can(user, team_id, action):
        raise Forbidden(f"Your role in this team does not allow this ({action.name.lower()}).")


def get_runbook_for_user(user, pk) -> Runbook:
    try:
        return Runbook.objects.select_related("team").get(pk=int(pk), team_id__in=team_ids_of(user))
    except (Runbook.DoesNotExist, ValueError, TypeError):
        raise Http404("No such runbook") from None


def get_run_for_user(user, pk) -> RunbookRun:
    try:
        return RunbookRun.objects.select_related("incident", "runbook").get(
            pk=int(pk), incident__team_id__in=team_ids_of(user)
        )
    except (RunbookRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No such runbook run") from None


def teams_user_may_configure(user) -> list[Team]:
    teams = Team.objects.filter(pk__in=team_ids_of(user)).order_by("name")
    return [t for t in teams if can(user, t, Action.CONFIGURE)]
