"""ntfy (self-hosted push to phones): POST the message to the topic URL, with headers for the
title, the priority (from the severity), tags, the click target and the acknowledge action.

The target is the topic URL (``https://ntfy.example.com/oncall-alice``); the secret, when set,
is an access token (sent as Bearer) or ``user:password`` (sent as basic auth).
"""

from __future__ import annotations

import base64

from oncall.channels import SendResult, http
from oncall.messages import message_subject, message_text

# Vigil severity -> ntfy priority (1 min, 2 low, 3 default, 4 high, 5 urgent). A complete or
# major outage is urgent (long vibration bursts, pop-over); a minor impairment stays quiet.
PRIORITY_BY_SEVERITY = {1: 2, 2: 3, 3: 4, 4: 5, 5: 5}
TAGS_BY_SEVERITY = {1: "information_source", 2: "warning", 3: "warning", 4: "rotating_light",
                    5: "rotating_light"}  # fmt: skip


def header_value(text: str) -> str:
    """HTTP header values are Latin-1 at best: non-ASCII goes as RFC 2047 (ntfy decodes it)."""
    text = " ".join(str(text).split())
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def ntfy_headers(payload: dict) -> dict:
    incident = payload["incident"]
    severity = incident["severity"]
    actions = [f"view, Open incident, {incident['url']}"]
    if payload.get("acknowledge_url"):
        actions.insert(0, f"view, Acknowledge, {payload['acknowledge_url']}, clear=true")
    return {
        "Title": header_value(message_subject(payload)),
        "Priority": str(PRIORITY_BY_SEVERITY.get(severity, 3)),
        "Tags": f"{TAGS_BY_SEVERITY.get(severity, 'warning')},sev{severity}",
        "Click": incident["url"],
        "Actions": "; ".join(actions),
    }


def _auth(secret: str) -> tuple[dict, tuple[str, str] | None]:
    if not secret:
        return {}, None
    if ":" in secret:
        user, password = secret.split(":", 1)
        return {}, (user, password)
    return {"Authorization": f"Bearer {secret}"}, None


def send_ntfy(notification) -> SendResult:
    source = notification.channel or notification.contact_method
    headers, basic = _auth(source.secret if source is not None else "")
    answer = http.post(
        notification.target,
        body=message_text(notification.payload).encode(),
        content_type="text/plain; charset=utf-8",
        headers={**ntfy_headers(notification.payload), **headers},
        basic_auth=basic,
    )
    # {"code": 40101, "http": 401, "error": "unauthorized", "link": "..."}
    return http.result_of(answer, service="ntfy", service_error=lambda data: data["error"])
