"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat accept this shape)."""

from __future__ import annotations

from incidents.outbound import post_json
from oncall.channels import SendResult
from oncall.messages import message_subject


def _escape(text: str) -> str:
    # Slack mrkdwn control characters; a title must not become a link or a mention.
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(payload: dict) -> dict:
    incident = payload["incident"]
    lines = [
        f"*{_escape(message_subject(payload))}*",
        f"Service: {_escape(incident['service'])} · Severity {incident['severity']} "
        f"({_escape(incident['severity_label'])}) · {_escape(payload['level_name'])}",
        _escape(payload["what_happened"]),
        f"<{incident['url']}|Open the incident room>",
    ]
    if payload.get("acknowledge_url"):
        lines.append(f"<{payload['acknowledge_url']}|Acknowledge> (link valid 1 h, once)")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def send_slack(notification) -> SendResult:
    result = post_json(notification.target, slack_body(notification.payload))
    return SendResult(result.ok, result.error, result.retryable, result.status)
