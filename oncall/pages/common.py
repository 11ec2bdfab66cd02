"""Helpers the on-call set-up pages share: team choice, members, 404 for other teams."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

from accounts.models import Team
from accounts.permissions import team_ids_of
from config.errors import InvalidInput


def team_for_new(request: HttpRequest) -> Team:
    """The team a new object goes to: ?team= (or the POSTed team), else the switcher's team."""
    wanted = request.POST.get("team") or request.GET.get("team") or request.session.get("team_id")
    ids = team_ids_of(request.user)
    try:
        team_id = int(wanted) if wanted else (ids[0] if ids else None)
    except (TypeError, ValueError):
        raise InvalidInput(_("team: not a team id")) from None
    if team_id not in ids:
        if not ids:
            raise Http404("No team")
        team_id = ids[0]
    return Team.objects.get(pk=team_id)


def team_members(team_id: int) -> list[tuple[int, str]]:
    users = get_user_model().objects.filter(memberships__team_id=team_id).order_by("username")
    return [(u.pk, str(u)) for u in users]


def get_in_my_teams(model, request, pk, *, team_field="team_id"):
    obj = model.objects.filter(pk=pk, **{f"{team_field}__in": team_ids_of(request.user)}).first()
    if obj is None:
        raise Http404("Not found")
    return obj
