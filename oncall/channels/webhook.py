"""Generic webhooks (signed JSON) and L1 automated actions, through the SSRF-guarded client."""

from __future__ import annotations

from incidents.outbound import post_json
from oncall.channels import SendResult


def _result(delivery) -> SendResult:
    return SendResult(delivery.ok, delivery.error, delivery.retryable, delivery.status)


def _secret_of(notification) -> str:
    source = notification.channel or notification.contact_method
    return source.secret if source is not None else ""


def send_webhook(notification) -> SendResult:
    body = {"event": "incident.page", **notification.payload}
    return _result(post_json(notification.target, body, secret=_secret_of(notification)))


def send_action(notification) -> SendResult:
    if notification.action is None:
        return SendResult(False, "the automated action was deleted", retryable=False)
    body = notification.payload.get("body", {})
    return _result(post_json(notification.target, body, secret=notification.action.secret))
