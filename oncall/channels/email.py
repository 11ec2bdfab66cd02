"""Email through Django's email backend (SMTP in production, files under VIGIL_DATA_DIR/mail in
development, locmem in tests)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from oncall.channels import SendResult
from oncall.messages import message_subject, message_text


def send_email(notification) -> SendResult:
    payload = notification.payload
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    message = EmailMessage(
        subject=message_subject(payload),
        body=message_text(payload),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.target],
        headers={"X-Vigil-Incident": payload["incident"]["reference"]},
        connection=connection,
    )
    try:
        message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(False, f"recipient refused: {exc.recipients}", retryable=False)
    except smtplib.SMTPResponseException as exc:
        # 5xx replies are permanent by RFC 5321; 4xx ask us to come back later.
        error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        return SendResult(False, error, retryable=exc.smtp_code < 500)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return SendResult(False, f"{exc.__class__.__name__}: {exc}", retryable=True)
    return SendResult(True, written_to=written_file(connection))


def written_file(connection) -> str:
    """The file Django's file backend wrote the message to (one per connection), else ""."""
    return str(getattr(connection, "_fname", "") or "")
