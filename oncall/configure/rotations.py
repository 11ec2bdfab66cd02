"""Rotations (members in order), overrides and swaps."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction

from accounts.models import Team
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from oncall.configure.common import (
    MAX_SHIFT_HOURS,
    ROTATION_FIELDS,
    audit_act,
    members_of,
)
from oncall.models import (
    Override,
    Rotation,
    RotationMember,
)

# --- rotations ----------------------------------------------------------------------------


def _clean_rotation(values: dict) -> dict:
    out = dict(values)
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"] or len(out["name"]) > 120:
            raise InvalidInput("name: 1 to 120 characters")
    if "time_zone" in out:
        try:
            ZoneInfo(out["time_zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"time_zone: unknown time zone {out['time_zone']!r}") from None
    if "shift_hours" in out and not 1 <= int(out["shift_hours"]) <= MAX_SHIFT_HOURS:
        raise InvalidInput(f"shift_hours: 1 to {MAX_SHIFT_HOURS}")
    if "handoff_time" in out and not isinstance(out["handoff_time"], time):
        raise InvalidInput("handoff_time: a time of day, e.g. 09:00")
    if "start_date" in out and not (
        isinstance(out["start_date"], date) and 1970 <= out["start_date"].year <= 2100
    ):
        raise InvalidInput("start_date: a date between 1970 and 2100")
    return out


def _set_members(rotation: Rotation, member_ids: list[int]) -> None:
    if len(set(member_ids)) != len(member_ids):
        raise InvalidInput("members: someone appears twice")
    strangers = set(member_ids) - members_of(rotation.team_id)
    if strangers:
        raise InvalidInput(f"members: not members of the team: {sorted(strangers)}")
    rotation.members.all().delete()
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, user_id=pk, position=i) for i, pk in enumerate(member_ids)
    )


def create_rotation(*, team: Team, actor: Actor, values: dict, member_ids: list[int]) -> Rotation:
    values = _clean_rotation(values)
    if Rotation.objects.filter(team=team, name=values["name"]).exists():
        raise Conflict(f"name: {team.name} already has a rotation called {values['name']!r}")
    try:
        with transaction.atomic():
            rotation = Rotation.objects.create(team=team, **values)
            _set_members(rotation, member_ids)
            audit_act("oncall.rotation_created", actor=actor, team=team,
                   target=f"rotation:{rotation.pk}", data={"name": rotation.name})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another rotation took this name a moment ago") from None
    return rotation


def update_rotation(
    *,
    rotation: Rotation,
    actor: Actor,
    values: dict,
    member_ids: list[int],
    version: str | None = None,
) -> Rotation:
    values = _clean_rotation(values)
    try:
        with transaction.atomic():
            rotation = (
                Rotation.objects.select_for_update(of=("self",))
                .select_related("team")
                .get(pk=rotation.pk)
            )
            current = list(rotation.members.values_list("user_id", flat=True))
            refuse_if_stale(
                _WithMembers(rotation, current), (*ROTATION_FIELDS, "member_ids"), version,
                what=f"rotation {rotation.name!r}",
            )  # fmt: skip
            if (
                Rotation.objects.filter(team=rotation.team, name=values.get("name"))
                .exclude(pk=rotation.pk)
                .exists()
            ):
                raise Conflict(f"name: the team already has a rotation called {values['name']!r}")
            changed = [
                k for k in ROTATION_FIELDS if k in values and getattr(rotation, k) != values[k]
            ]
            for name in changed:
                setattr(rotation, name, values[name])
            if changed:
                rotation.save(update_fields=changed)
            if member_ids != current:
                _set_members(rotation, member_ids)
                changed.append("members")
            audit_act("oncall.rotation_updated", actor=actor, team=rotation.team,
                   target=f"rotation:{rotation.pk}", data={"changed": changed})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another rotation took this name a moment ago") from None
    return rotation


class _WithMembers:
    """A rotation and its member order, for one version hash over both."""

    def __init__(self, rotation: Rotation, member_ids: list[int]):
        self._rotation = rotation
        self.member_ids = member_ids
        self._meta = rotation._meta

    def __getattr__(self, name):
        return getattr(self._rotation, name)


def rotation_version(rotation: Rotation) -> str:
    from config.stale import version_of

    current = list(rotation.members.values_list("user_id", flat=True))
    return version_of(_WithMembers(rotation, current), (*ROTATION_FIELDS, "member_ids"))


def add_override(
    *, rotation: Rotation, user, start: datetime, end: datetime, actor: Actor
) -> Override:
    """``user`` covers [start, end). A swap is an override for exactly one shift."""
    if end <= start:
        raise InvalidInput("end: must be after the start")
    if not (1970 <= start.year <= 2100 and 1970 <= end.year <= 2100):
        raise InvalidInput("start: dates between 1970 and 2100")
    if user.pk not in members_of(rotation.team_id):
        raise InvalidInput(f"user: {user} is not a member of the team")
    with transaction.atomic():
        rotation = Rotation.objects.select_for_update().select_related("team").get(pk=rotation.pk)
        override = Override.objects.create(
            rotation=rotation, user=user, start=start, end=end, created_by=actor.user_or_none
        )
        audit_act("oncall.override_added", actor=actor, team=rotation.team,
               target=f"rotation:{rotation.pk}",
               data={"user": user.pk, "start": start.isoformat(), "end": end.isoformat()})  # fmt: skip
    return override


@transaction.atomic
def remove_override(*, override: Override, actor: Actor) -> None:
    override = (
        Override.objects.select_for_update().select_related("rotation__team").get(pk=override.pk)
    )
    audit_act("oncall.override_removed", actor=actor, team=override.rotation.team,
           target=f"rotation:{override.rotation_id}", data={"override": override.pk})  # fmt: skip
    override.delete()
