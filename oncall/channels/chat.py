"""Chat rooms: Microsoft Teams (Adaptive Card), Mattermost and Rocket.Chat (Slack-compatible
``text`` + ``attachments``) and Discord (``content`` + ``embeds``). The target is the room's
incoming-webhook URL; every message carries the room link and the signed acknowledge link."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oncall.channels import SendResult, http
from oncall.messages import message_subject

SEVERITY_COLORS = {1: "#9e9e9e", 2: "#fbc02d", 3: "#f57c00", 4: "#e64a19", 5: "#c62828"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@])")


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown punctuation (CommonMark): a title cannot become a link, an
    image or an @channel mention."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def _color(payload: dict) -> str:
    return SEVERITY_COLORS.get(payload["incident"]["severity"], "#9e9e9e")


def _facts(payload: dict) -> list[tuple[str, str]]:
    incident = payload["incident"]
    return [
        ("Service", incident["service"]),
        ("Severity", f"{incident['severity']} ({incident['severity_label']})"),
        ("Escalation", payload["level_name"]),
    ]


# --- Microsoft Teams ----------------------------------------------------------------------


def teams_body(payload: dict) -> dict:
    incident = payload["incident"]
    actions = []
    if payload.get("acknowledge_url"):
        actions.append(
            {"type": "Action.OpenUrl", "title": "Acknowledge", "url": payload["acknowledge_url"]}
        )
    actions.append(
        {"type": "Action.OpenUrl", "title": "Open the incident room", "url": incident["url"]}
    )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": message_subject(payload),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Attention" if incident["severity"] >= 4 else "Warning",
            },
            {
                "type": "FactSet",
                "facts": [{"title": title, "value": value} for title, value in _facts(payload)],
            },
            {"type": "TextBlock", "text": payload["what_happened"], "wrap": True},
        ],
        "actions": actions,
    }
    if payload.get("acknowledge_url"):
        card["body"].append(
            {
                "type": "TextBlock",
                "text": "The acknowledge link works once and for one hour.",
                "isSubtle": True,
                "wrap": True,
            }
        )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _teams_error(data) -> str:
    # Workflows answer errors as {"error": {"code", "message"}}.
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("message", "") if isinstance(error, dict) else ""


def send_teams(notification) -> SendResult:
    answer = http.post_json(notification.target, teams_body(notification.payload))
    return http.result_of(answer, service="Microsoft Teams", service_error=_teams_error)


# --- Mattermost and Rocket.Chat (Slack-compatible) ---------------------------------------


def slack_compatible_body(payload: dict, *, name_field: str) -> dict:
    incident = payload["incident"]
    links = [f"[Open the incident room]({incident['url']})"]
    if payload.get("acknowledge_url"):
        links.insert(0, f"[Acknowledge]({payload['acknowledge_url']}) (works once, for 1 h)")
    subject = escape_markdown(message_subject(payload))
    return {
        name_field: "Vigil",
        "text": f"**{subject}**\n" + " · ".join(links),
        "attachments": [
            {
                "fallback": message_subject(payload),
                "color": _color(payload),
                "title": message_subject(payload),
                "title_link": incident["url"],
                "text": escape_markdown(payload["what_happened"]),
                "fields": [
                    {"short": True, "title": title, "value": escape_markdown(value)}
                    for title, value in _facts(payload)
                ],
            }
        ],
    }


def _mattermost_error(data) -> str:
    # {"id": "web.incoming_webhook.invalid.app_error", "message": "Invalid webhook.", ...}
    return data.get("message", "") if isinstance(data, dict) else ""


def _rocketchat_error(data) -> str:
    # {"success": false, "error": "..."}
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def send_mattermost(notification) -> SendResult:
    body = slack_compatible_body(notification.payload, name_field="username")
    answer = http.post_json(notification.target, body)
    return http.result_of(answer, service="Mattermost", service_error=_mattermost_error)


def send_rocketchat(notification) -> SendResult:
    body = slack_compatible_body(notification.payload, name_field="alias")
    answer = http.post_json(notification.target, body)
    result = http.result_of(answer, service="Rocket.Chat", service_error=_rocketchat_error)
    data = answer.json()
    if result.ok and isinstance(data, dict) and data.get("success") is False:
        return SendResult(False, f"Rocket.Chat refused the message: {data.get('error', '')}",
                          False, answer.status)  # fmt: skip
    return result


# --- Discord ------------------------------------------------------------------------------


def discord_body(payload: dict) -> dict:
    incident = payload["incident"]
    fields = [
        {"name": title, "value": value[:1024], "inline": True} for title, value in _facts(payload)
    ]
    if payload.get("acknowledge_url"):
        fields.append(
            {
                "name": "Acknowledge",
                "value": f"[Acknowledge]({payload['acknowledge_url']}) (works once, for 1 h)",
                "inline": False,
            }
        )
    return {
        "username": "Vigil",
        "content": escape_markdown(message_subject(payload))[:2000],
        "embeds": [
            {
                "title": message_subject(payload)[:256],
                "description": escape_markdown(payload["what_happened"])[:4096],
                "url": incident["url"],
                "color": int(_color(payload)[1:], 16),
                "fields": fields,
            }
        ],
        # Nobody is pinged by text in a title: no @everyone, no role or user mentions.
        "allowed_mentions": {"parse": []},
    }


def _discord_url(url: str) -> str:
    """``?wait=true`` makes Discord answer 200 with the message once stored (else 204)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "wait"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("wait", "true")])))


def _discord_error(data) -> str:
    # {"message": "Invalid Webhook Token", "code": 50027}
    return data.get("message", "") if isinstance(data, dict) else ""


def send_discord(notification) -> SendResult:
    answer = http.post_json(_discord_url(notification.target), discord_body(notification.payload))
    return http.result_of(
        answer,
        service="Discord",
        service_error=_discord_error,
        retry_after=lambda data: data["retry_after"],
    )
