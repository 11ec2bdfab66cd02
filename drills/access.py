"""The only way a view or the API fetches a drill by id: another team's is a 404."""

from django.http import Http404

from accounts.permissions import team_ids_of
from drills.models import Drill


def get_drill_for_user(user, pk) -> Drill:
    try:
        return Drill.objects.select_related(
            "service", "team", "probe", "heartbeat", "alert", "incident"
        ).get(pk=int(pk), team_id__in=team_ids_of(user))
    except (Drill.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such drill") from None
