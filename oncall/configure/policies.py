"""Escalation policies with their levels, and the policy of a service."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Team
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from incidents.models import Service
from oncall.configure.common import (
    MAX_TIMEOUT_MINUTES,
    POLICY_FIELDS,
    audit_act,
    members_of,
)
from oncall.models import (
    LEVELS,
    Channel,
    EscalationLevel,
    EscalationPolicy,
    Rotation,
    ServiceEscalation,
    validate_severity_rules,
)


@dataclass
class LevelSpec:
    """One level as a form describes it; None for a level the policy leaves out."""

    timeout_minutes: int = 15
    user_ids: list[int] = field(default_factory=list)
    rotation_id: int | None = None
    target_team_id: int | None = None
    channel_ids: list[int] = field(default_factory=list)


def _check_levels(team: Team, levels: dict[int, LevelSpec | None], *, visible_team_ids) -> None:
    if not any(levels.values()):
        raise InvalidInput("levels: a policy needs at least one level")
    members = members_of(team.pk)
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
            audit_act("oncall.policy_created", actor=actor, team=team, target=f"policy:{policy.pk}",
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
            audit_act("oncall.policy_updated", actor=actor, team=policy.team,
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
    audit_act("oncall.policy_deleted", actor=actor, team=policy.team, target=f"policy:{policy.pk}",
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
    audit_act("oncall.service_policy_set", actor=actor, team=service.team,
           target=f"service:{service.slug}",
           data={"policy": policy.pk if policy else None})  # fmt: skip
    return link
