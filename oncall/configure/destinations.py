"""Team channels and a person's own contact methods; test messages through the real senders."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Team
from config.errors import Conflict, InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from oncall import send_test
from oncall.configure.common import (
    CHANNEL_FIELDS,
    audit_act,
)
from oncall.models import (
    Channel,
    ChannelKind,
    ContactMethod,
)

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
            audit_act(action, actor=actor, team=team, target=f"channel:{channel.pk}",
                   data={"changed": [c for c in changed if c != "secret"]})  # fmt: skip
    except IntegrityError:
        raise Conflict("name: another channel took this name a moment ago") from None
    return channel


def send_channel_test(*, channel: Channel, actor: Actor):
    """One test message through the real sender; oncall.send_test writes the audit row."""
    return send_test.send_test_message(actor=actor, channel=channel)


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
        audit_act("contact_method.added", actor=actor, team=None, target=f"contact_method:{method.pk}",
               data={"kind": kind})  # fmt: skip
    return method


@transaction.atomic
def remove_contact_method(*, method: ContactMethod, actor: Actor) -> None:
    method = ContactMethod.objects.select_for_update().get(pk=method.pk)
    audit_act("contact_method.removed", actor=actor, team=None,
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
    audit_act("contact_method.moved", actor=actor, team=None, target=f"contact_method:{method.pk}",
           data={"direction": direction})  # fmt: skip


def verify_contact_method(*, method: ContactMethod, actor: Actor):
    """Send a test message; a delivered one marks the method verified. Returns SendResult."""
    result = send_test.send_test_message(actor=actor, contact_method=method)
    if result.ok:
        with transaction.atomic():
            ContactMethod.objects.filter(pk=method.pk).update(verified_at=timezone.now())
            audit_act("contact_method.verified", actor=actor, team=None,
                   target=f"contact_method:{method.pk}")  # fmt: skip
    return result
