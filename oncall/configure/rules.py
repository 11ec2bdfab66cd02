"""A person's notification rules: for incidents of severity N or worse, this contact method,
M minutes after the page. Only the person themself changes them (views pass their own user)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from config.errors import Conflict, InvalidInput
from incidents.actors import Actor
from incidents.severity import severity_text
from oncall.configure.common import audit_act
from oncall.models import ContactMethod, NotificationRule

MAX_DELAY_MINUTES = 1440


def add_notification_rule(
    *, user, min_severity: int, contact_method: ContactMethod, delay_minutes: int, actor: Actor
) -> NotificationRule:
    if not isinstance(min_severity, int) or not 1 <= min_severity <= 5:
        raise InvalidInput("min_severity: 1 to 5")
    if not isinstance(delay_minutes, int) or not 0 <= delay_minutes <= MAX_DELAY_MINUTES:
        raise InvalidInput(f"delay_minutes: 0 to {MAX_DELAY_MINUTES} minutes")
    if contact_method.user_id != user.pk:
        raise InvalidInput("contact_method: not one of your contact methods")
    try:
        with transaction.atomic():
            rule = NotificationRule.objects.create(
                user=user,
                min_severity=min_severity,
                contact_method=contact_method,
                delay_minutes=delay_minutes,
            )
            audit_act(
                "notification_rule.added",
                actor=actor,
                team=None,
                target=f"user:{user.pk}",
                data={
                    "rule_id": rule.pk,
                    "min_severity": min_severity,
                    "contact_method": contact_method.pk,
                    "delay_minutes": delay_minutes,
                },
            )
    except IntegrityError:
        raise Conflict(
            f"contact_method: you already have this rule for severity {severity_text(min_severity)} "
            "and up"
        ) from None
    return rule


@transaction.atomic
def remove_notification_rule(*, rule: NotificationRule, actor: Actor) -> None:
    rule = NotificationRule.objects.select_for_update().filter(pk=rule.pk).first()
    if rule is None:
        return  # removed a moment ago (another tab): the outcome asked for
    audit_act(
        "notification_rule.removed",
        actor=actor,
        team=None,
        target=f"user:{rule.user_id}",
        data={
            "rule_id": rule.pk,
            "min_severity": rule.min_severity,
            "contact_method": rule.contact_method_id,
            "delay_minutes": rule.delay_minutes,
        },
    )
    rule.delete()
