"""Subscribers: email with double opt-in, signed webhooks, signed links, and their deliveries.

Deliveries are oncall's Notification rows (purpose ``status``): the same idempotency key, claim,
lease, retry and sweep as pages to people, so each subscriber gets each update once however
many workers or re-dispatched events touch it. The key is ``status:u<update>:s<subscriber>``.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit
from incidents.actors import Actor
from incidents.outbound import address_allowed, post_json
from oncall.channels import SendResult
from oncall.delivery import enqueue_deliveries
from oncall.models import Notification, NotificationStatus
from statuspage.errors import InvalidStatusInput, StatusPageError, UnknownStatusObject
from statuspage.languages import catalog_language, pick
from statuspage.models import (
    PublicIncident,
    PublicUpdate,
    StatusPage,
    Subscriber,
    SubscriberKind,
)

log = logging.getLogger(__name__)

PURPOSE = "status"
_CONFIRM_SALT = "statuspage.subscriber.confirm"
_UNSUBSCRIBE_SALT = "statuspage.subscriber.unsubscribe"


# --- signed links -------------------------------------------------------------------------


def confirm_token(subscriber: Subscriber) -> str:
    return signing.TimestampSigner(salt=_CONFIRM_SALT).sign(
        f"{subscriber.pk}.{subscriber.secret[:8]}"
    )


def unsubscribe_token(subscriber: Subscriber) -> str:
    # No expiry: an unsubscribe link in a year-old mail must still work.
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(f"{subscriber.pk}.{subscriber.secret[:8]}")


def _subscriber_from(value: str, page: StatusPage) -> Subscriber:
    pk, _sep, fragment = value.partition(".")
    subscriber = Subscriber.objects.filter(page=page, pk=pk if pk.isdigit() else 0).first()
    if subscriber is None or subscriber.secret[:8] != fragment:
        raise UnknownStatusObject("this link is not valid for this status page")
    return subscriber


def _absolute(path: str) -> str:
    return settings.BASE_URL + path


def _in_language(url: str, subscriber: Subscriber) -> str:
    """The link opens in the subscriber's language."""
    return f"{url}?lang={subscriber.language}" if subscriber.language else url


def confirm_url(subscriber: Subscriber) -> str:
    return _in_language(
        _absolute(
            reverse("statuspage:confirm", args=[subscriber.page.slug, confirm_token(subscriber)])
        ),
        subscriber,
    )


def unsubscribe_url(subscriber: Subscriber) -> str:
    return _in_language(
        _absolute(
            reverse(
                "statuspage:unsubscribe",
                args=[subscriber.page.slug, unsubscribe_token(subscriber)],
            )
        ),
        subscriber,
    )


# --- subscribing --------------------------------------------------------------------------


def _clean_target(kind: str, target: str) -> str:
    target = (target or "").strip()
    if kind == SubscriberKind.EMAIL:
        target = target.lower()
        try:
            validate_email(target)
        except ValidationError:
            raise InvalidStatusInput(f"{target[:100]!r} is not a valid email address") from None
        if len(target) > 254:
            raise InvalidStatusInput("an email address is at most 254 characters")
        return target
    if kind == SubscriberKind.WEBHOOK:
        return clean_webhook_url(target)
    raise InvalidStatusInput(f"kind must be email or webhook, got {kind!r}")


def clean_webhook_url(url: str) -> str:
    """http(s) only, at most 500 characters, and no literal address the SSRF guard refuses.
    (Names are checked again at every connection, after DNS, by incidents.outbound.)"""
    if len(url) > 500:
        raise InvalidStatusInput("a webhook URL is at most 500 characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidStatusInput(f"{url[:100]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidStatusInput("a webhook URL must be http:// or https:// with a host name")
    try:
        ipaddress.ip_address(parts.hostname.strip("[]"))
        literal = True
    except ValueError:
        literal = parts.hostname.lower() == "localhost"
    if literal and (
        parts.hostname.lower() == "localhost" or not address_allowed(parts.hostname.strip("[]"))
    ):
        raise InvalidStatusInput(
            f"refused webhook URL {url[:100]!r}: private, loopback, link-local or metadata "
            "address (PROBE_ALLOWED_NETWORKS can allow it)"
        )
    return url


def subscribe(
    *, page: StatusPage, kind: str, target: str, actor: Actor, language: str = ""
) -> Subscriber:
    """Start a subscription. Email: a confirmation mail goes out and nothing else until it is
    confirmed. Webhook (added by a team member through the API): active at once. Subscribing
    again with a live subscription re-sends the confirmation instead of failing. ``language``
    (one of the page's) is the language of the messages; otherwise the page's default."""
    target = _clean_target(kind, target)
    language = language if language in (page.languages or []) else ""
    now = timezone.now()
    try:
        with transaction.atomic():
            subscriber = Subscriber.objects.create(
                page=page,
                kind=kind,
                target=target,
                language=language,
                created_at=now,
                confirmed_at=now if kind == SubscriberKind.WEBHOOK else None,
            )
            audit.record(
                action="statuspage.subscribed",
                actor=actor.user_or_none,
                actor_label=actor.label,
                ip=actor.ip,
                team=page.team,
                target=f"subscriber {subscriber.pk}",
                data={"kind": kind},
            )
    except IntegrityError:
        subscriber = Subscriber.objects.get(
            page=page, kind=kind, target=target, unsubscribed_at__isnull=True
        )
    if subscriber.kind == SubscriberKind.EMAIL and subscriber.confirmed_at is None:
        transaction.on_commit(lambda: send_confirmation(subscriber_id=subscriber.pk))
    return subscriber


def send_confirmation(*, subscriber_id: int) -> None:
    subscriber = Subscriber.objects.select_related("page").filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.confirmed_at or subscriber.unsubscribed_at:
        return
    page = subscriber.page
    with translation.override(catalog_language(_language_of(subscriber))):
        body = _(
            "Someone asked to receive updates from the status page “%(title)s” at this "
            "address.\n\n"
            "Confirm the subscription: %(confirm)s\n\n"
            "If it was not you, ignore this mail: nothing will be sent without confirmation."
        ) % {"title": page.title, "confirm": confirm_url(subscriber)}
        subject = _("Confirm your subscription to %(title)s") % {"title": page.title}
    try:
        EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[subscriber.target],
            connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
        ).send(fail_silently=False)
    except Exception:
        log.warning("confirmation mail to subscriber %s failed", subscriber_id, exc_info=True)


@transaction.atomic
def confirm(*, page: StatusPage, token: str) -> Subscriber:
    try:
        value = signing.TimestampSigner(salt=_CONFIRM_SALT).unsign(
            token, max_age=settings.STATUSPAGE_LINK_MAX_AGE
        )
    except signing.SignatureExpired:
        raise StatusPageError("this confirmation link has expired; subscribe again") from None
    except signing.BadSignature:
        raise UnknownStatusObject("this link is not valid for this status page") from None
    subscriber = _subscriber_from(value, page)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is not None:
        raise StatusPageError("this subscription was cancelled; subscribe again")
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
        audit.record(
            action="statuspage.subscription_confirmed",
            actor_label=f"subscriber {subscriber.pk}",
            team=page.team,
            target=f"subscriber {subscriber.pk}",
        )
    return subscriber


@transaction.atomic
def unsubscribe(*, page: StatusPage, token: str) -> Subscriber:
    """One click, idempotent: a second click finds it cancelled and says so quietly."""
    try:
        value = signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        raise UnknownStatusObject("this link is not valid for this status page") from None
    subscriber = _subscriber_from(value, page)
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.unsubscribed_at is None:
        now = timezone.now()
        subscriber.unsubscribed_at = now
        subscriber.save(update_fields=["unsubscribed_at"])
        Notification.objects.filter(
            purpose=PURPOSE,
            status=NotificationStatus.QUEUED,
            idempotency_key__endswith=f":s{subscriber.pk}",
        ).update(status=NotificationStatus.CANCELLED, next_attempt_at=None)
        audit.record(
            action="statuspage.unsubscribed",
            actor_label=f"subscriber {subscriber.pk}",
            team=page.team,
            target=f"subscriber {subscriber.pk}",
        )
    return subscriber


# --- deliveries ---------------------------------------------------------------------------


def delivery_key(update_id: int, subscriber_id: int) -> str:
    return f"{PURPOSE}:u{update_id}:s{subscriber_id}"


def _sent_this_hour(subscriber_ids: list[int], now: datetime) -> dict[int, int]:
    rows = (
        Notification.objects.filter(
            purpose=PURPOSE,
            created_at__gte=now - timedelta(hours=1),
            payload__subscriber_id__in=subscriber_ids,
        )
        .values("payload__subscriber_id")
        .annotate(n=Count("id"))
    )
    return {int(row["payload__subscriber_id"]): row["n"] for row in rows}


def queue_deliveries(*, update: PublicUpdate, public_incident: PublicIncident) -> list[int]:
    """Insert one delivery row per active subscriber of the page (a second call inserts
    nothing) and hand them to workers after commit. A subscriber past its hourly limit gets
    the message in the next hour instead."""
    now = timezone.now()
    subscribers = list(
        Subscriber.objects.filter(
            page_id=public_incident.page_id,
            confirmed_at__isnull=False,
            unsubscribed_at__isnull=True,
        ).only("pk", "kind", "target")
    )
    if not subscribers:
        return []
    counts = _sent_this_hour([s.pk for s in subscribers], now)
    limit = settings.STATUSPAGE_SUBSCRIBER_MAX_PER_HOUR
    rows = [
        Notification(
            idempotency_key=delivery_key(update.pk, s.pk),
            incident_id=public_incident.incident_id,
            level=0,
            purpose=PURPOSE,
            kind=s.kind,
            target=s.target,
            label=f"status subscriber {s.pk}",
            payload={"update_id": update.pk, "subscriber_id": s.pk},
            next_attempt_at=now if counts.get(s.pk, 0) < limit else now + timedelta(hours=1),
            created_at=now,
        )
        for s in subscribers
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        Notification.objects.filter(
            idempotency_key__in=[r.idempotency_key for r in rows],
            status=NotificationStatus.QUEUED,
            next_attempt_at__lte=now,
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: enqueue_deliveries(ids))
    return ids


def _language_of(subscriber: Subscriber) -> str:
    page = subscriber.page
    if subscriber.language and subscriber.language in (page.languages or []):
        return subscriber.language
    return page.default_language


def _message(update: PublicUpdate, subscriber: Subscriber) -> dict:
    """The update in the subscriber's language (the default language's words where none were
    written in it); webhooks also get every language's words."""
    public = update.public_incident
    page = public.page
    language = _language_of(subscriber)
    translated = language != page.default_language
    name = pick(public.translations, language, "name", public.name) if translated else public.name
    body = pick(update.translations, language, "body", update.body) if translated else update.body
    return {
        "event": "status.update",
        "language": language,
        "page": {"slug": page.slug, "title": page.title, "url": _absolute(f"/status/{page.slug}/"),
                 "languages": list(page.languages or [page.default_language])},
        "incident": {"id": public.pk, "name": name, "status": public.status,
                     "impact": public.impact, "translations": public.translations or {}},
        "update": {"id": update.pk, "status": update.status, "body": body,
                   "translations": update.translations or {},
                   "created_at": (update.posted_at or update.created_at).isoformat()},
    }  # fmt: skip


def send_to_subscriber(notification) -> SendResult:
    """oncall's delivery calls this for rows of purpose "status" after winning the claim."""
    payload = notification.payload or {}
    subscriber = (
        Subscriber.objects.select_related("page").filter(pk=payload.get("subscriber_id")).first()
    )
    update = (
        PublicUpdate.objects.select_related("public_incident__page")
        .filter(pk=payload.get("update_id"), posted_at__isnull=False)
        .first()
    )
    if subscriber is None or not subscriber.is_active:
        return SendResult(False, "the subscriber has unsubscribed", retryable=False)
    if update is None:
        return SendResult(False, "the update no longer exists", retryable=False)
    message = _message(update, subscriber)
    if subscriber.kind == SubscriberKind.WEBHOOK:
        result = post_json(subscriber.target, message, secret=subscriber.secret)
        return SendResult(result.ok, result.error, result.retryable, result.status)
    return _send_mail(subscriber, update, message)


def _send_mail(subscriber: Subscriber, update: PublicUpdate, message: dict) -> SendResult:
    import smtplib

    public = update.public_incident
    unsubscribe = unsubscribe_url(subscriber)
    name, text = message["incident"]["name"], message["update"]["body"]
    with translation.override(catalog_language(message["language"])):
        status = str(update.get_status_display())
        body = f"{name}\n{status}: {text}\n\n{message['page']['url']}\n\n" + _(
            "Unsubscribe: %(url)s"
        ) % {"url": unsubscribe}
    mail = EmailMessage(
        subject=f"[{public.page.title}] {name}: {status}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.target],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
    )
    try:
        mail.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(False, f"recipient refused: {exc.recipients}", retryable=False)
    except smtplib.SMTPResponseException as exc:
        return SendResult(False, f"SMTP {exc.smtp_code}", retryable=exc.smtp_code < 500)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return SendResult(False, f"{exc.__class__.__name__}: {exc}", retryable=True)
    return SendResult(True)
