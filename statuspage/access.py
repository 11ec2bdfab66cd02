"""The only way views fetch status-page objects: unknown or not yours is a 404."""

from __future__ import annotations

from django.http import Http404

from accounts.permissions import Action, can, team_ids_of
from statuspage.models import PublicUpdate, StatusPage


def page_for_reader(user, slug: str) -> StatusPage:
    """A public page for anyone; a login-only page only for its team (404 to anyone else,
    never 403: a stranger must not learn that it exists)."""
    page = StatusPage.objects.filter(slug=slug).select_related("team").first()
    if page is None or (not page.is_public and not can(user, page.team_id, Action.VIEW)):
        raise Http404("No such status page")
    return page


def pages_of(user):
    return StatusPage.objects.filter(team_id__in=team_ids_of(user)).select_related("team")


def update_for_user(user, pk) -> PublicUpdate:
    try:
        return PublicUpdate.objects.select_related(
            "public_incident__page", "public_incident__incident"
        ).get(pk=int(pk), public_incident__page__team_id__in=team_ids_of(user))
    except (PublicUpdate.DoesNotExist, ValueError, TypeError):
        raise Http404("No such status update") from None
