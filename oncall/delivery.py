"""Deliveries: who a level reaches, one Notification row per destination, sending exactly once.

Row life: queued (next_attempt_at) -> sending (claimed by a conditional UPDATE, with a lease)
-> sent | queued again after a transient failure (exponential backoff, a due time in the row,
never a long Celery ETA) | failed (permanent, or out of attempts). A worker that dies while
sending loses its lease; the sweep puts the row back to queued and it is sent again (at least
once; the idempotency key guarantees no second row, the claim no second concurrent send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Membership, Role
from incidents import services as incident_services
from incidents.actors import Actor
from oncall import channels
from oncall.acklinks import create_ack_link
from oncall.messages import build_message, render_action_body
from oncall.models import (
    LEVEL_NAMES,
    AutomatedAction,
    Channel,
    ChannelKind,
    ContactMethod,
    Notification,
    NotificationKind,
    NotificationStatus,
    Rotation,
)
from oncall.rotations import who_is_on_call

log = logging.getLogger(__name__)
DELIVERY = Actor.system("notifications")

# Other apps deliver their messages through these same rows (claim, lease, retry, sweep): they
# register a sender for their ``purpose`` (e.g. statuspage's "status" for subscribers), and say
# whether each delivery's fate belongs in the incident's timeline.
_purpose_senders: dict[str, tuple[Callable, bool]] = {}


def register_purpose_sender(purpose: str, sender: Callable, *, in_timeline: bool = True) -> None:
    _purpose_senders[purpose] = (sender, in_timeline)


def recipients_of(level_spec: dict, *, team_id_hint=None, now: datetime) -> tuple[list, list[str]]:
    """The people a level reaches, in a stable order without duplicates, and notes on gaps."""
    User = get_user_model()
    notes: list[str] = []
    ordered: dict[int, object] = {}
    for user in User.objects.filter(pk__in=level_spec.get("user_ids", []), is_active=True):
        ordered.setdefault(user.pk, user)
    rotation_id = level_spec.get("rotation_id")
    if rotation_id:
        rotation = Rotation.objects.filter(pk=rotation_id).first()
        on_call = who_is_on_call(rotation, now) if rotation else None
        if on_call is None:
            notes.append(f"nobody on call in rotation {rotation or rotation_id}")
        elif on_call.is_active:
            ordered.setdefault(on_call.pk, on_call)
    team_id = level_spec.get("team_id")
    if team_id:
        members = (
            Membership.objects.filter(team_id=team_id, role__gte=Role.RESPONDER)
            .select_related("user")
            .order_by("user_id")
        )
        for membership in members:
            if membership.user.is_active:
                ordered.setdefault(membership.user_id, membership.user)
    return list(ordered.values()), notes


class Destination(NamedTuple):
    kind: str
    target: str
    method: ContactMethod | None
    delay_minutes: int = 0


def rule_tier(min_severities, severity: int) -> int | None:
    """The tier of a person's rules a severity falls in: the highest ``min_severity`` at or
    below it, or None when every tier starts above it."""
    eligible = [tier for tier in set(min_severities) if tier <= severity]
    return max(eligible) if eligible else None


def destinations_for(user, severity: int | None = None) -> list[Destination]:
    """Where and when to reach a person for a page of ``severity``.

    Their notification rules decide (the tier the severity falls in, active methods only);
    without rules, or when the tier names no active method, every active contact method at
    once, else the account's e-mail address: a page is never dropped for want of a rule."""
    methods = sorted(
        (m for m in user.contact_methods.all() if m.is_active), key=lambda m: (m.position, m.pk)
    )
    if severity is not None and methods:
        rules = list(user.notification_rules.all())
        tier = rule_tier([r.min_severity for r in rules], severity)
        if tier is not None:
            active = {m.pk: m for m in methods}
            chosen = [
                Destination(active[r.contact_method_id].kind, active[r.contact_method_id].target,
                            active[r.contact_method_id], r.delay_minutes)
                for r in sorted(rules, key=lambda r: (r.delay_minutes, r.pk))
                if r.min_severity == tier and r.contact_method_id in active
            ]  # fmt: skip
            if chosen:
                return chosen
    if methods:
        return [Destination(m.kind, m.target, m) for m in methods]
    if user.email:
        return [Destination(ChannelKind.EMAIL, user.email, None)]
    return []


def _destinations_of(user) -> list[tuple[str, str, ContactMethod | None]]:
    """Every destination of a person regardless of severity (kind, target, method)."""
    return [(d.kind, d.target, d.method) for d in destinations_for(user)]


def create_level_notifications(
    *,
    incident,
    level: int,
    level_spec: dict,
    cycle: str,
    purpose: str,
    reason: str,
    now: datetime,
) -> tuple[list[int], str]:
    """Insert the delivery rows of one engaged level; returns (queued ids, human summary).

    Called with the escalation row locked. The unique idempotency key makes a second call for
    the same (incident, series, level, recipient, channel) insert nothing.
    """
    prefix = f"{incident.pk}:{cycle}:L{level}:{purpose}"
    rows: list[Notification] = []
    labels: list[str] = []

    def add(key: str, kind: str, target: str, label: str, payload: dict, delay: int = 0,
            **links) -> None:  # fmt: skip
        rows.append(
            Notification(
                idempotency_key=f"{prefix}:{key}"[:200],
                incident=incident,
                level=level,
                purpose=purpose,
                kind=kind,
                target=target,
                label=label[:200],
                payload=payload,
                next_attempt_at=now + timedelta(minutes=delay),
                created_at=now,
                **links,
            )
        )
        labels.append(f"{label} ({kind}{f', after {delay} min' if delay else ''})")

    existing = set(
        Notification.objects.filter(idempotency_key__startswith=prefix + ":").values_list(
            "idempotency_key", flat=True
        )
    )

    def fresh(key: str) -> bool:
        return f"{prefix}:{key}"[:200] not in existing

    # A drill must not harm anything outside Vigil: automated actions (restarts, failovers)
    # never run for one, and people are paged only when DRILLS_PAGE_PEOPLE says so.
    quiet_drill = incident.is_drill and not settings.DRILLS_PAGE_PEOPLE
    if purpose == "page" and incident.is_drill and level_spec.get("actions"):
        labels.append("drill: automated actions skipped")
    if purpose == "page" and not incident.is_drill:
        for spec in level_spec.get("actions", []):
            key = f"a{spec['id']}"
            if fresh(key):
                body = render_action_body(spec.get("body") or {}, incident=incident, level=level)
                action = AutomatedAction.objects.filter(pk=spec["id"]).first()
                add(key, NotificationKind.ACTION, spec["url"], spec["name"], {"body": body},
                    action=action)  # fmt: skip

    def message_for(recipient, label: str) -> dict:
        ack_url = create_ack_link(incident=incident, recipient=recipient, label=label, now=now)
        expires = now + timedelta(seconds=settings.ONCALL_ACK_LINK_MAX_AGE)
        return build_message(
            incident=incident,
            level=level,
            purpose=purpose,
            reason=reason,
            ack_url=ack_url,
            ack_expires=expires,
        )

    users, notes = recipients_of(level_spec, now=now)
    if quiet_drill and users:
        # Game days go through the real path but never wake people unless configured.
        notes.append(f"drill: {len(users)} people not paged (DRILLS_PAGE_PEOPLE is off)")
        users = []
    for user in users:
        destinations = destinations_for(user, incident.severity)
        if not destinations:
            notes.append(f"{user} has no contact method and no email")
        for kind, target, method, delay in destinations:
            key = f"u{user.pk}:{f'cm{method.pk}' if method else 'email'}"
            if delay:
                key += f":d{delay}"  # a rule may use one method twice (at once, then again)
            if fresh(key):
                add(key, kind, target, str(user), message_for(user, str(user)), delay,
                    recipient=user, contact_method=method)  # fmt: skip
    for channel in Channel.objects.filter(pk__in=level_spec.get("channel_ids", []), is_active=True):
        key = f"ch{channel.pk}"
        if fresh(key):
            add(key, channel.kind, channel.target, channel.name,
                message_for(None, channel.name), channel=channel)  # fmt: skip

    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    # Only what is due now goes to the workers; a rule's later step waits in its row for the
    # sweep (and is cancelled with the other queued pages when someone acknowledges first).
    ids = list(
        Notification.objects.filter(
            idempotency_key__in=[r.idempotency_key for r in rows],
            status=NotificationStatus.QUEUED,
            next_attempt_at__lte=now,
        ).values_list("pk", flat=True)
    )
    summary = ", ".join(labels) if labels else "nobody to notify"
    if notes:
        summary += "; " + "; ".join(notes)
    return ids, summary


def enqueue_deliveries(ids: list[int]) -> None:
    """Hand rows to workers. If the broker is down, nothing is lost: the sweep finds them."""
    from oncall.tasks import deliver_notification

    for pk in ids:
        try:
            deliver_notification.delay(pk)
        except Exception as exc:  # broker trouble: the row stays queued for the sweep
            log.warning("could not enqueue notification %s (%s); the sweep will send it", pk, exc)
            return


def cancel_pending_pages(*, incident_id: int) -> int:
    """Acknowledged or resolved: queued pages and retries are pointless now."""
    return Notification.objects.filter(
        incident_id=incident_id,
        status=NotificationStatus.QUEUED,
        purpose__in=["page", "action"],
    ).update(status=NotificationStatus.CANCELLED, next_attempt_at=None)


def _backoff(attempts: int) -> timedelta:
    base = settings.ONCALL_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def deliver_notification(*, notification_id: int, now: datetime | None = None) -> str:
    """Send one row if this call wins its claim. Returns sent / retry / failed / skipped.

    Safe to call any number of times, concurrently: only the call whose conditional UPDATE
    moves the row from queued to sending sends it.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=settings.ONCALL_DELIVERY_LEASE_SECONDS)
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.QUEUED, next_attempt_at__lte=now
    ).update(
        status=NotificationStatus.SENDING,
        claimed_at=now,
        lease_until=now + lease,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return "skipped"
    notification = Notification.objects.select_related(
        "incident", "incident__service", "channel", "contact_method", "action", "recipient"
    ).get(pk=notification_id)
    sender = _purpose_senders.get(notification.purpose, (channels.send, True))[0]
    try:
        result = sender(notification)
    except Exception as exc:  # a bug in a sender must not leave the row stuck in "sending"
        log.exception("sending notification %s failed", notification_id)
        result = channels.SendResult(False, f"{exc.__class__.__name__}: {exc}", retryable=True)
    return _record_result(notification, result, now)


def _record_result(notification: Notification, result, now: datetime) -> str:
    finished = max(timezone.now(), now)
    max_attempts = settings.ONCALL_DELIVERY_MAX_ATTEMPTS
    level = LEVEL_NAMES.get(notification.level, notification.purpose)
    what = f"{level} {notification.kind} to {notification.label}"
    with transaction.atomic():
        row = Notification.objects.select_for_update().get(pk=notification.pk)
        row.last_status_code = result.status_code
        row.lease_until = None
        if result.ok:
            row.status, row.sent_at, row.last_error = NotificationStatus.SENT, finished, ""
            outcome, kind = "sent", "notification_sent"
            message = f"Delivered {what}" + (
                f" (attempt {row.attempts})" if row.attempts > 1 else ""
            )
            if notification.kind == NotificationKind.ACTION:
                kind, message = "automated_action", f"Automated action {notification.label} "
                message += f"succeeded (HTTP {result.status_code})"
        elif result.retryable and row.attempts < max_attempts:
            row.status, row.last_error = NotificationStatus.QUEUED, result.error[:2000]
            wait = _backoff(row.attempts)
            asked = getattr(result, "retry_after", None)
            if asked is not None:
                # The service said how long to wait (429 Retry-After): never sooner than that.
                wait = timedelta(seconds=min(max(asked, 1.0), 3600.0))
            row.next_attempt_at = finished + wait
            outcome, kind = "retry", "notification_retry"
            message = (
                f"Delivery of {what} failed (attempt {row.attempts} of {max_attempts}): "
                f"{result.error}; retrying at {row.next_attempt_at:%H:%M:%S} UTC"
            )
            if asked is not None:
                message += f" (the service asked to wait {asked:g} s)"
        else:
            row.status, row.last_error = NotificationStatus.FAILED, result.error[:2000]
            row.next_attempt_at = None
            outcome, kind = "failed", "notification_failed"
            why = "not retryable" if not result.retryable else f"gave up after {row.attempts}"
            message = f"Delivery of {what} failed for good ({why}): {result.error}"
            if notification.kind == NotificationKind.ACTION:
                kind = "automated_action"
                message = f"Automated action {notification.label} failed ({why}): {result.error}"
        row.written_to = (getattr(result, "written_to", "") or "")[:500] if result.ok else ""
        if row.written_to:
            message += f" (written to {row.written_to})"
        row.save(
            update_fields=[
                "status", "sent_at", "last_error", "next_attempt_at", "lease_until",
                "last_status_code", "written_to",
            ]
        )  # fmt: skip
        if _purpose_senders.get(notification.purpose, (None, True))[1]:
            _record_in_timeline(notification, row, kind, outcome, message, result, finished)
    # One line per delivery; a delivery that gave up is a problem someone should look at.
    log.log(
        logging.WARNING if outcome == "failed" else logging.INFO,
        "%s: %s",
        notification.incident.reference,
        message,
    )
    return outcome


def _record_in_timeline(notification, row, kind, outcome, message, result, finished) -> None:
    incident_services.record(
        incident=notification.incident,
        kind=kind,
        actor=DELIVERY,
        at=finished,
        message=message,
        data={
            "notification_id": row.pk,
            "outcome": outcome,
            "attempts": row.attempts,
            "status_code": result.status_code,
            "level": row.level,
            **({"written_to": row.written_to} if row.written_to else {}),
        },
    )


def requeue_due_notifications(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """The sweep's share: expired leases back to queued, then every due row handed to workers."""
    now = now or timezone.now()
    max_attempts = settings.ONCALL_DELIVERY_MAX_ATTEMPTS
    Notification.objects.lease_expired(now).filter(attempts__gte=max_attempts).update(
        status=NotificationStatus.FAILED,
        lease_until=None,
        last_error="worker lost while sending, out of attempts",
    )
    Notification.objects.lease_expired(now).update(
        status=NotificationStatus.QUEUED, lease_until=None, next_attempt_at=now
    )
    ids = list(
        Notification.objects.due(now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue_deliveries(ids)
    return ids
