"""The verbs of on-call configuration: escalation policies with their levels, the policy of a
service, rotations, overrides and swaps, team channels, and a person's own contact methods.

Keyword-only, one transaction each, rows locked when they change, one audit row per act
(``oncall.policy_created``, ``oncall.policy_updated``, ``oncall.policy_deleted``,
``oncall.service_policy_set``, ``oncall.rotation_created``, ``oncall.rotation_updated``,
``oncall.override_added``, ``oncall.override_removed``, ``oncall.channel_created``,
``oncall.channel_updated``, ``oncall.channel_tested``, ``contact_method.added``,
``contact_method.removed``, ``contact_method.moved``, ``contact_method.verified``). Views and
the API check roles; these check state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import record as audit
from accounts.models import Membership, Team
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from incidents.models import Service, Severity
from oncall.models import (
    LEVELS,
    Channel,
    ChannelKind,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    Override,
    Rotation,
    RotationMember,
    ServiceEscalation,
    validate_severity_rules,
)

POLICY_FIELDS = ("name", "is_team_default", "repeat_last_level", "severity_rules")
ROTATION_FIELDS = ("name", "time_zone", "shift_hours", "handoff_time", "start_date")
CHANNEL_FIELDS = ("name", "kind", "target", "secret", "is_active")
MAX_SHIFT_HOURS = 24 * 366
MAX_TIMEOUT_MINUTES = 7 * 24 * 60


def _audit(action: str, *, actor: Actor, team: Team | None, target: str, data=None) -> None:
    audit(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=team,
        target=target,
        data=data or {},
    )


@dataclass
class LevelSpec:
    """One level as a form describes it; None for a level the policy leaves out."""

    timeout_minutes: int = 15
    user_ids: list[int] = field(default_factory=list)
    rotation_id: int | None = None
    target_team_id: int | None = None
    channel_ids: list[int] = field(default_factory=list)


def _members_of(team_id: int) -> set[int]:
    return set(Membership.objects.filter(team_id=team_id).values_list("user_id", flat=True))


def _check_levels(team: Team, levels: dict[int, LevelSpec | None], *, visible_team_ids) -> None:
    if not any(levels.values()):
        raise InvalidInput("levels: a policy needs at least one level")
    members = _members_of(team.pk)
    rotations = set(Rotation.objects.filter(team=team).values_list("pk", flat=True))
    channels = set(Channel.objects.filter(team=team).values_list("pk", flat=True))
    for number, spec in levels.items():
        if number not in LEVELS:
            raise InvalidInput(f"levels: no level L{number}; levels are L1-L4")
        if spec is None:
            continue
        if not 1 <= spec.timeout_minutes <= MAX_TIMEOUT_MINUTES:
            raise InvalidInput(f"l{number}_timeout: 1 to {MAX_TIMEOUT_MINUTES} minutes")
        strangers = set(spec.user_ids) - members
        if strangers:
            raise InvalidInput(f"l{number}_users: not members of {team.name}: {sorted(strangers)}")
        if spec.rotation_id and spec.rotation_id not in rotations:
            raise InvalidInput(f"l{number}_rotation: not a rotation of {team.name}")
        if spec.target_team_id and spec.target_team_id not in visible_team_ids:
            raise InvalidInput(f"l{number}_team: not one of your teams")
        if set(spec.channel_ids) - channels:
            raise InvalidInput(f"l{number}_channels: not a channel of {team.name}")


def _write_levels(policy: EscalationPolicy, levels: dict[int, LevelSpec | None]) -> None:
    existing = {level.number: level for level in policy.levels.all()}
    for number in LEVELS:
        spec = levels.get(number)
        level = existing.get(number)
        if spec is None:
            if level is not None:
                level.delete()
            continue
        if level is None:
            level = EscalationLevel(policy=policy, number=number)
        level.timeout_minutes = spec.timeout_minutes
        level.rotation_id = spec.rotation_id
        level.target_team_id = spec.target_team_id
        level.save()
        level.users.set(spec.user_ids)
        level.channels.set(spec.channel_ids)


def _clean_policy(values: dict) -> dict:
    out = dict(values)
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"] or len(out["name"]) > 120:
            raise InvalidInput("name: 1 to 120 characters")
    if "repeat_last_level" in out and not 0 <= int(out["repeat_last_level"]) <= 10:
        raise InvalidInput("repeat_last_level: 0 to 10")
    if "severity_rules" in out:
        try:
            validate_severity_rules(out["severity_rules"])
        except ValidationError as exc:
            raise InvalidInput("severity_rules: " + " ".join(exc.messages)) from None
    return out


def _policy_conflicts(team: Team, values: dict, exclude: int | None) -> None:
    others = EscalationPolicy.objects.filter(team=team)
    if exclude:
        others = others.exclude(pk=exclude)
    if others.filter(name=values.get("name")).exists():
        raise Conflict(f"name: {team.name} already has a policy called {values['name']!r}")
    if values.get("is_team_default") and others.filter(is_team_default=True).exists():
        raise Conflict("is_team_default: the team already has a default policy; unset it there")


def create_policy(
    *,
    team: Team,
    actor: Actor,
    values: dict,
    levels: dict[int, LevelSpec | None],
    visible_team_ids,
) -> EscalationPolicy:
    values = _clean_policy(values)
    _check_levels(team, levels, visible_team_ids=visible_team_ids)
    _policy_conflicts(team, values, None)
    try:
        with transaction.atomic():
            policy = EscalationPolicy.objects.create(team=team, **values)
            _write_levels(policy, levels)
            _audit("oncall.policy_created", actor=actor, team=team, target=f"policy:{policy.pk}",
                   data={"name": policy.name, "levels": sorted(n for n, s in levels.items() if s)})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another policy took this name a moment ago") from None
    return policy


def update_policy(
    *,
    policy: EscalationPolicy,
    actor: Actor,
    values: dict,
    levels: dict[int, LevelSpec | None],
    visible_team_ids,
    version: str | None = None,
) -> EscalationPolicy:
    """Incidents already escalating keep the snapshot taken when they opened."""
    values = _clean_policy(values)
    try:
        with transaction.atomic():
            policy = (
                EscalationPolicy.objects.select_for_update(of=("self",))
                .select_related("team")
                .get(pk=policy.pk)
            )
            refuse_if_stale(policy, POLICY_FIELDS, version, what=f"policy {policy.name!r}")
            _check_levels(policy.team, levels, visible_team_ids=visible_team_ids)
            _policy_conflicts(policy.team, {**values}, policy.pk)
            changed = [k for k in POLICY_FIELDS if k in values and getattr(policy, k) != values[k]]
            for name in changed:
                setattr(policy, name, values[name])
            policy.save(update_fields=[*changed, "updated_at"])
            _write_levels(policy, levels)
            _audit("oncall.policy_updated", actor=actor, team=policy.team,
                   target=f"policy:{policy.pk}",
                   data={"changed": changed,
                         "levels": sorted(n for n, s in levels.items() if s)})  # fmt: skip
    except IntegrityError:
        raise Conflict("is_team_default: another default policy was set a moment ago") from None
    return policy


@transaction.atomic
def delete_policy(*, policy: EscalationPolicy, actor: Actor) -> None:
    policy = EscalationPolicy.objects.select_for_update().select_related("team").get(pk=policy.pk)
    used = list(policy.services.values_list("service__name", flat=True)[:5])
    if used:
        raise Conflict(
            f"cannot delete policy {policy.name}: services use it ({', '.join(used)}); "
            "give them another policy first"
        )
    _audit("oncall.policy_deleted", actor=actor, team=policy.team, target=f"policy:{policy.pk}",
           data={"name": policy.name})  # fmt: skip
    policy.delete()


@transaction.atomic
def set_service_policy(
    *, service: Service, policy: EscalationPolicy | None, actor: Actor
) -> ServiceEscalation | None:
    """Give a service its own policy; None: it falls back to the team's default policy."""
    service = Service.objects.select_for_update().select_related("team").get(pk=service.pk)
    if policy is not None and policy.team_id != service.team_id:
        raise InvalidInput("policy: it must belong to the service's team")
    if policy is None:
        ServiceEscalation.objects.filter(service=service).delete()
        link = None
    else:
        link, _ = ServiceEscalation.objects.update_or_create(
            service=service, defaults={"policy": policy}
        )
    _audit("oncall.service_policy_set", actor=actor, team=service.team,
           target=f"service:{service.slug}",
           data={"policy": policy.pk if policy else None})  # fmt: skip
    return link


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
    strangers = set(member_ids) - _members_of(rotation.team_id)
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
            _audit("oncall.rotation_created", actor=actor, team=team,
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
            _audit("oncall.rotation_updated", actor=actor, team=rotation.team,
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
    if user.pk not in _members_of(rotation.team_id):
        raise InvalidInput(f"user: {user} is not a member of the team")
    with transaction.atomic():
        rotation = Rotation.objects.select_for_update().select_related("team").get(pk=rotation.pk)
        override = Override.objects.create(
            rotation=rotation, user=user, start=start, end=end, created_by=actor.user_or_none
        )
        _audit("oncall.override_added", actor=actor, team=rotation.team,
               target=f"rotation:{rotation.pk}",
               data={"user": user.pk, "start": start.isoformat(), "end": end.isoformat()})  # fmt: skip
    return override


@transaction.atomic
def remove_override(*, override: Override, actor: Actor) -> None:
    override = (
        Override.objects.select_for_update().select_related("rotation__team").get(pk=override.pk)
    )
    _audit("oncall.override_removed", actor=actor, team=override.rotation.team,
           target=f"rotation:{override.rotation_id}", data={"override": override.pk})  # fmt: skip
    override.delete()


# --- channels and contact methods ---------------------------------------------------------


def check_destination(kind: str, target: str, *, field_name: str = "target") -> str:
    target = (target or "").strip()
    if kind not in ChannelKind.values:
        raise InvalidInput(f"kind: one of {', '.join(ChannelKind.values)}")
    if "\x00" in target or len(target) > 500:
        raise InvalidInput(f"{field_name}: at most 500 characters, no NUL")
    try:
        if kind == ChannelKind.EMAIL:
            EmailValidator()(target)
        else:
            URLValidator(schemes=["http", "https"])(target)
    except ValidationError:
        what = "an e-mail address" if kind == ChannelKind.EMAIL else "an http(s) URL"
        raise InvalidInput(f"{field_name}: {target!r} is not {what}") from None
    return target


def save_channel(
    *, team: Team, actor: Actor, values: dict, channel: Channel | None = None,
    version: str | None = None,
) -> Channel:  # fmt: skip
    values = dict(values)
    values["name"] = (values.get("name") or "").strip()
    if not values["name"] or len(values["name"]) > 120:
        raise InvalidInput("name: 1 to 120 characters")
    values["target"] = check_destination(values["kind"], values["target"])
    others = Channel.objects.filter(team=team, name=values["name"])
    if channel is not None:
        others = others.exclude(pk=channel.pk)
    if others.exists():
        raise Conflict(f"name: {team.name} already has a channel called {values['name']!r}")
    try:
        with transaction.atomic():
            if channel is None:
                channel = Channel.objects.create(team=team, **values)
                action = "oncall.channel_created"
                changed = sorted(values)
            else:
                channel = Channel.objects.select_for_update().get(pk=channel.pk)
                refuse_if_stale(channel, CHANNEL_FIELDS, version, what=f"channel {channel.name!r}")
                changed = [k for k in CHANNEL_FIELDS if getattr(channel, k) != values.get(k)]
                for name in changed:
                    setattr(channel, name, values[name])
                channel.save(update_fields=changed or ["name"])
                action = "oncall.channel_updated"
            _audit(action, actor=actor, team=team, target=f"channel:{channel.pk}",
                   data={"changed": [c for c in changed if c != "secret"]})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another channel took this name a moment ago") from None
    return channel


def _test_payload(actor: Actor) -> dict:
    from django.conf import settings

    now = timezone.now()
    return {
        "incident": {
            "id": 0,
            "reference": "TEST",
            "title": "Test message from Vigil",
            "severity": Severity.MINOR,
            "severity_label": Severity.MINOR.label,
            "status": "test",
            "service": "(test)",
            "service_slug": "test",
            "summary": f"Sent by {actor} to check this destination.",
            "url": f"{settings.BASE_URL}/oncall/",
            "triggered_at": now.isoformat(),
        },
        "level": 2,
        "level_name": "test",
        "purpose": "test",
        "what_happened": f"A test message requested by {actor}. Nothing is wrong.",
        "acknowledge_url": "",
        "acknowledge_expires_at": None,
    }


def send_test_message(*, kind: str, target: str, secret: str, actor: Actor, channel=None,
                      contact_method=None):  # fmt: skip
    """Send one test message now, through the same sender as real pages; returns SendResult."""
    from oncall.channels import send
    from oncall.models import Notification

    notification = Notification(
        kind=kind, target=target, label="test", payload=_test_payload(actor), channel=channel,
        contact_method=contact_method,
    )  # fmt: skip
    return send(notification)


def send_channel_test(*, channel: Channel, actor: Actor):
    result = send_test_message(
        kind=channel.kind, target=channel.target, secret=channel.secret, actor=actor,
        channel=channel,
    )  # fmt: skip
    _audit("oncall.channel_tested", actor=actor, team=channel.team, target=f"channel:{channel.pk}",
           data={"ok": result.ok, "error": result.error[:200]})  # fmt: skip
    return result


def add_contact_method(
    *, user, kind: str, target: str, actor: Actor, secret: str = ""
) -> ContactMethod:
    target = check_destination(kind, target)
    if "\x00" in secret or len(secret) > 128:
        raise InvalidInput("secret: at most 128 characters")
    with transaction.atomic():
        last = ContactMethod.objects.filter(user=user).aggregate(m=Max("position"))["m"]
        method = ContactMethod.objects.create(
            user=user, kind=kind, target=target, secret=secret,
            position=0 if last is None else last + 1,
        )  # fmt: skip
        _audit("contact_method.added", actor=actor, team=None, target=f"contact_method:{method.pk}",
               data={"kind": kind})  # fmt: skip
    return method


@transaction.atomic
def remove_contact_method(*, method: ContactMethod, actor: Actor) -> None:
    method = ContactMethod.objects.select_for_update().get(pk=method.pk)
    _audit("contact_method.removed", actor=actor, team=None,
           target=f"contact_method:{method.pk}", data={"kind": method.kind})  # fmt: skip
    method.delete()


@transaction.atomic
def move_contact_method(*, method: ContactMethod, direction: str, actor: Actor) -> None:
    """Swap with the neighbour above (``up``) or below (``down``); renumbers 0..n-1."""
    if direction not in ("up", "down"):
        raise InvalidInput("direction: up or down")
    methods = list(ContactMethod.objects.select_for_update().filter(user_id=method.user_id))
    index = next(i for i, m in enumerate(methods) if m.pk == method.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(methods):
        raise Conflict(
            f"cannot move it {direction}: it is already {'first' if direction == 'up' else 'last'}"
        )
    methods[index], methods[other] = methods[other], methods[index]
    for position, item in enumerate(methods):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])
    _audit("contact_method.moved", actor=actor, team=None, target=f"contact_method:{method.pk}",
           data={"direction": direction})  # fmt: skip


def verify_contact_method(*, method: ContactMethod, actor: Actor):
    """Send a test message; a delivered one marks the method verified. Returns SendResult."""
    result = send_test_message(
        kind=method.kind, target=method.target, secret=method.secret, actor=actor,
        contact_method=method,
    )  # fmt: skip
    if result.ok:
        with transaction.atomic():
            ContactMethod.objects.filter(pk=method.pk).update(verified_at=timezone.now())
            _audit("contact_method.verified", actor=actor, team=None,
                   target=f"contact_method:{method.pk}")  # fmt: skip
    return result
