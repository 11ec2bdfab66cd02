"""Telegram through the Bot API ``sendMessage`` (HTML parse mode).

The target is the chat id (``-100…`` for groups and channels, a number for a person, or
``@channelname``); the bot token is the channel's secret, or TELEGRAM_BOT_TOKEN for personal
contact methods. The token is part of the URL, so it is scrubbed from every error we keep.
"""

from __future__ import annotations

from html import escape

from django.conf import settings

from oncall.channels import SendResult, http
from oncall.messages import message_subject


def telegram_text(payload: dict) -> str:
    incident = payload["incident"]
    lines = [
        f"<b>{escape(message_subject(payload))}</b>",
        f"Service: {escape(incident['service'])}",
        f"Severity: {incident['severity']} ({escape(incident['severity_label'])})",
        f"Escalation: {escape(payload['level_name'])}",
        "",
        escape(payload["what_happened"]),
        "",
        f'<a href="{escape(incident["url"])}">Open the incident room</a>',
    ]
    if payload.get("acknowledge_url"):
        lines.append(
            f'<a href="{escape(payload["acknowledge_url"])}">Acknowledge</a> (works once, for 1 h)'
        )
    return "\n".join(lines)[:4096]


def telegram_body(chat_id: str, payload: dict) -> dict:
    return {
        "chat_id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
        "text": telegram_text(payload),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }


def _bot_token(notification) -> str:
    source = notification.channel or notification.contact_method
    return (source.secret if source is not None else "") or settings.TELEGRAM_BOT_TOKEN


def send_telegram(notification) -> SendResult:
    token = _bot_token(notification)
    if not token:
        return SendResult(False, "Telegram: no bot token (set the channel's secret or "
                          "TELEGRAM_BOT_TOKEN)", retryable=False)  # fmt: skip
    url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
    answer = http.post_json(url, telegram_body(notification.target, notification.payload))
    result = http.result_of(
        answer,
        service="Telegram",
        # {"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}
        service_error=lambda data: data["description"],
        retry_after=lambda data: data["parameters"]["retry_after"],
    )
    if result.error and token in result.error:
        return SendResult(result.ok, result.error.replace(token, "<bot token>"), result.retryable,
                          result.status_code, result.retry_after)  # fmt: skip
    return result
