"""Senders, one module per kind of destination. Each takes a Notification and returns a
SendResult saying whether it worked and whether trying again could help."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str = ""
    retryable: bool = False
    status_code: int | None = None


def send(notification) -> SendResult:
    from oncall.channels import email, slack, webhook
    from oncall.models import NotificationKind

    senders = {
        NotificationKind.EMAIL: email.send_email,
        NotificationKind.WEBHOOK: webhook.send_webhook,
        NotificationKind.SLACK: slack.send_slack,
        NotificationKind.ACTION: webhook.send_action,
    }
    sender = senders.get(notification.kind)
    if sender is None:
        return SendResult(False, f"unknown notification kind {notification.kind!r}", False)
    return sender(notification)
