"""The only way a view or API fetches an incident-core object by id: another team's is a 404."""

from django.http import Http404

from accounts.permissions import team_ids_of
from incidents.models import Incident, Service


def get_incident_for_user(user, pk) -> Incident:
    try:
        return Incident.objects.select_related("service", "team", "assignee").get(
            pk=int(pk), team_id__in=team_ids_of(user)
        )
    except (Incident.DoesNotExist, ValueError, TypeError):
        raise Http404("No such incident") from None


def get_service_for_user(user, slug: str) -> Service:
    try:
        return Service.objects.select_related("team").get(slug=slug, team_id__in=team_ids_of(user))
    except Service.DoesNotExist:
        raise Http404("No such service") from None
