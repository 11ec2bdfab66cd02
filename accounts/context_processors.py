from accounts.models import Team


def current_team(request):
    """The teams the user belongs to and the one chosen in the switcher (kept in the session)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    teams = list(Team.objects.of_user(user)) if not user.is_superuser else list(Team.objects.all())
    chosen_id = request.session.get("team_id")
    chosen = next((t for t in teams if t.pk == chosen_id), teams[0] if teams else None)
    return {"user_teams": teams, "current_team": chosen}
