"""Automated actions of an escalation level: signed JSON POSTs fired when the level engages
(restart a pod, fail over a database). Created, edited, deleted and tried from the policy page.

The same outbound rules as every call Vigil makes: http(s) only, the SSRF guard's verdict at
the edge (``monitoring.configure.outbound_problem``, the warning probes get too) and again on
every real call (``incidents.outbound.post_json`` connects only to allowed addresses). The
body template is JSON with ``{{ incident.title }}``-style placeholders filled into parsed
strings (``incidents.outbound.fill_json_template``), never code. Secrets are write-only.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from config import safejson
from config.errors import InvalidInput
from config.stale import refuse_if_stale
from incidents.actors import Actor
from incidents.outbound import DeliveryResult, fill_json_template, post_json
from oncall.configure.common import audit_act
from oncall.models import AutomatedAction, EscalationLevel

ACTION_FIELDS = ("level", "name", "url", "body_template")  # the secret stays out of the hash
MAX_BODY_TEMPLATE = 10_000


def parse_body_template(text: str) -> dict:
    """The body template as typed: a JSON object (empty text: ``{}``), bounded in size and depth."""
    text = (text or "").strip()
    if not text:
        return {}
    if len(text) > MAX_BODY_TEMPLATE:
        raise InvalidInput(f"body_template: at most {MAX_BODY_TEMPLATE} characters")
    try:
        value = safejson.loads(text)
    except safejson.InvalidJson as exc:
        raise InvalidInput(f"body_template: {exc.problem}") from None
    if not isinstance(value, dict):
        raise InvalidInput("body_template: must be a JSON object ({...})")
    return value


def _check_url(url: str) -> str:
    from monitoring.configure import outbound_problem

    url = (url or "").strip()
    if "\x00" in url or len(url) > 500:
        raise InvalidInput("url: at most 500 characters")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidInput(f"url: {url!r} is not an http:// or https:// URL") from None
    if urlsplit(url).username or urlsplit(url).password:
        raise InvalidInput("url: no user or password in the URL; use the signing secret")
    problem = outbound_problem(url)
    if problem:
        raise InvalidInput(f"url: {problem}")
    return url


def _clean(values: dict) -> dict:
    name = (values.get("name") or "").strip()
    if not name or len(name) > 120 or "\x00" in name:
        raise InvalidInput("name: 1 to 120 characters")
    body = values.get("body_template") or {}
    if not isinstance(body, dict):
        raise InvalidInput("body_template: must be a JSON object")
    secret = values.get("secret")
    if secret is not None and ("\x00" in secret or len(secret) > 128):
        raise InvalidInput("secret: at most 128 characters")
    return {"name": name, "url": _check_url(values.get("url", "")), "body_template": body,
            "secret": secret}  # fmt: skip


def _level_of(policy, number: int) -> EscalationLevel:
    level = EscalationLevel.objects.filter(policy=policy, number=number).first()
    if level is None:
        raise InvalidInput(f"level: the policy has no L{number}; enable that level first")
    return level


def create_action(*, policy, level_number: int, values: dict, actor: Actor) -> AutomatedAction:
    """Incidents already escalating keep their snapshot; new incidents fire the action."""
    values = _clean(values)
    with transaction.atomic():
        level = _level_of(policy, level_number)
        action = AutomatedAction.objects.create(
            level=level, name=values["name"], url=values["url"],
            body_template=values["body_template"], secret=values["secret"] or "",
        )  # fmt: skip
        audit_act("oncall.action_created", actor=actor, team=policy.team,
                  target=f"action:{action.pk}",
                  data={"policy": policy.pk, "level": level_number, "name": action.name,
                        "url": action.url})  # fmt: skip
    return action


def update_action(
    *,
    action: AutomatedAction,
    level_number: int,
    values: dict,
    actor: Actor,
    version: str | None = None,
    clear_secret: bool = False,
) -> AutomatedAction:
    """An empty secret keeps the stored one (it is never shown); ``clear_secret`` removes it."""
    values = _clean(values)
    with transaction.atomic():
        action = (
            AutomatedAction.objects.select_for_update(of=("self",))
            .select_related("level__policy__team")
            .get(pk=action.pk)
        )
        refuse_if_stale(action, ACTION_FIELDS, version, what=f"action {action.name!r}")
        policy = action.level.policy
        level = _level_of(policy, level_number)
        changed = []
        for name in ("name", "url", "body_template"):
            if getattr(action, name) != values[name]:
                setattr(action, name, values[name])
                changed.append(name)
        if level.pk != action.level_id:
            action.level = level
            changed.append("level")
        if clear_secret and action.secret:
            action.secret = ""
            changed.append("secret")
        elif values["secret"] and values["secret"] != action.secret:
            action.secret = values["secret"]
            changed.append("secret")
        if changed:
            action.save(update_fields=changed)
            audit_act("oncall.action_updated", actor=actor, team=policy.team,
                      target=f"action:{action.pk}",
                      data={"policy": policy.pk, "changed": changed})  # fmt: skip
    return action


@transaction.atomic
def delete_action(*, action: AutomatedAction, actor: Actor) -> None:
    action = (
        AutomatedAction.objects.select_for_update(of=("self",))
        .select_related("level__policy__team")
        .filter(pk=action.pk)
        .first()
    )
    if action is None:
        return
    policy = action.level.policy
    audit_act("oncall.action_deleted", actor=actor, team=policy.team, target=f"action:{action.pk}",
              data={"policy": policy.pk, "name": action.name, "url": action.url})  # fmt: skip
    action.delete()


def sample_context(action: AutomatedAction, *, tried_by: str) -> dict:
    """What a test run fills the template with: a made-up incident, clearly marked as a test."""
    now = timezone.now()
    return {
        "incident": {
            "id": 0,
            "reference": "TEST",
            "title": f"Test of automated action {action.name} by {tried_by}",
            "summary": "Nothing is wrong: someone pressed Test on the policy page.",
            "severity": 3,
            "severity_label": "significant degradation",
            "status": "triggered",
            "dedup_key": "vigil-test",
            "url": "",
            "triggered_at": now.isoformat(),
        },
        "service": {"name": "Vigil test", "slug": "vigil-test"},
        "level": action.level.number,
        "test": True,
    }


def try_action(*, action: AutomatedAction, actor: Actor) -> tuple[DeliveryResult, dict]:
    """Fire the action once now with a test incident, through the real (guarded, signed) call,
    and write the audit row. Returns the result and the body that was sent."""
    action = AutomatedAction.objects.select_related("level__policy__team").get(pk=action.pk)
    # The URL is checked again: the guard may have changed since it was saved.
    try:
        _check_url(action.url)
    except InvalidInput as exc:
        result = DeliveryResult(False, None, exc.message.removeprefix("url: "), False)
        body: dict = {}
    else:
        body = fill_json_template(
            action.body_template or {}, sample_context(action, tried_by=actor.label)
        )
        result = post_json(action.url, body, secret=action.secret)
    audit_act("oncall.action_tested", actor=actor, team=action.level.policy.team,
              target=f"action:{action.pk}",
              data={"ok": result.ok, "status_code": result.status, "error": result.error[:500]})  # fmt: skip
    return result, body


def body_text(action: AutomatedAction | None) -> str:
    if action is None or not action.body_template:
        return ""
    return json.dumps(action.body_template, indent=2, ensure_ascii=False)
