"""SMS and voice calls through a Twilio-compatible HTTP API.

``POST {TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json`` (form: To, From, Body) and
``…/Calls.json`` (form: To, From, Twiml), basic auth with the account SID and auth token; 201
with the message or call ``sid``. The target is the person's number in E.164 (+4917612345678).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from django.conf import settings

from oncall.channels import SendResult, http

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def sms_text(payload: dict) -> str:
    incident = payload["incident"]
    text = (
        f"Vigil {incident['reference']} sev {incident['severity']}: {incident['title']}"
        f" ({incident['service']}). {payload['what_happened']}"
    )[:1000]
    if payload.get("acknowledge_url"):
        text += f"\nAck: {payload['acknowledge_url']}"
    return text + f"\n{incident['url']}"


def voice_twiml(payload: dict) -> str:
    incident = payload["incident"]
    spoken = escape(
        f"This is Vigil. Incident {incident['reference'].replace('-', ' ')}, severity "
        f"{incident['severity']}, {incident['severity_label']}, on {incident['service']}: "
        f"{incident['title'][:300]}. Open Vigil or the text message to acknowledge."
    )
    return f'<Response><Say>{spoken}</Say><Pause length="1"/><Say>{spoken}</Say></Response>'


def _twilio_error(data) -> str:
    # {"code": 21211, "message": "The 'To' number … is not a valid phone number.", "status": 400}
    return f"{data['message']} (error {data['code']})" if data.get("code") else data["message"]


def _send(notification, resource: str, fields: dict, service: str) -> SendResult:
    sid, token, sender = (
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_FROM_NUMBER,
    )
    if not (sid and token and sender):
        return SendResult(False, f"{service} is not configured: set TWILIO_ACCOUNT_SID, "
                          "TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER", retryable=False)  # fmt: skip
    url = (
        f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{quote(sid, safe='')}/"
        f"{resource}"
    )
    body = urlencode({"To": notification.target, "From": sender, **fields}).encode()
    answer = http.post(
        url,
        body=body,
        content_type="application/x-www-form-urlencoded",
        basic_auth=(sid, token),
    )
    return http.result_of(answer, service=service, service_error=_twilio_error)


def send_sms(notification) -> SendResult:
    return _send(notification, "Messages.json", {"Body": sms_text(notification.payload)}, "SMS")


def send_voice(notification) -> SendResult:
    twiml = voice_twiml(notification.payload)
    return _send(notification, "Calls.json", {"Twiml": twiml}, "Voice call")
