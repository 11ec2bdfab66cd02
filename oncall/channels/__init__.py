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
    # Seconds the service asked us to wait before trying again (429 Retry-After), if it said.
    retry_after: float | None = None
    # Where the message was written instead of sent (the development mail backend's file).
    written_to: str = ""


def send(notification) -> SendResult:
    from oncall.channels import chat, email, ntfy, phone, slack, telegram, webhook
    from oncall.models import NotificationKind

    senders = {
        NotificationKind.EMAIL: email.send_email,
        NotificationKind.WEBHOOK: webhook.send_webhook,
        NotificationKind.SLACK: slack.send_slack,
        NotificationKind.ACTION: webhook.send_action,
        NotificationKind.TEAMS: chat.send_teams,
        NotificationKind.MATTERMOST: chat.send_mattermost,
        NotificationKind.ROCKETCHAT: chat.send_rocketchat,
        NotificationKind.DISCORD: chat.send_discord,
        NotificationKind.TELEGRAM: telegram.send_telegram,
        NotificationKind.NTFY: ntfy.send_ntfy,
        NotificationKind.SMS: phone.send_sms,
        NotificationKind.VOICE: phone.send_voice,
    }
    sender = senders.get(notification.kind)
    if sender is None:
        return SendResult(False, f"unknown notification kind {notification.kind!r}", False)
    return sender(notification)
