"""A person's own profile: display name and time zone (every time on the set-up pages is shown
in it). The page is oncall.pages.my_profile (it lists on-call shifts too); the verb lives here,
with the user it changes."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction

from accounts.audit import record as audit
from accounts.models import User
from config.errors import InvalidInput


@transaction.atomic
def update_profile(*, user: User, actor, display_name: str, time_zone: str) -> User:
    display_name = (display_name or "").strip()
    if "\x00" in display_name or len(display_name) > 150:
        raise InvalidInput("display_name: at most 150 characters, no NUL")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time_zone: unknown time zone {time_zone!r}") from None
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [
        name
        for name, value in (("display_name", display_name), ("time_zone", time_zone))
        if getattr(user, name) != value
    ]
    user.display_name, user.time_zone = display_name, time_zone
    if changed:
        user.save(update_fields=changed)
        audit(
            action="account.profile_updated",
            actor=actor.user_or_none,
            actor_label=actor.label,
            ip=actor.ip,
            target=f"user:{user.pk}",
            data={"changed": changed},
        )
    return user
