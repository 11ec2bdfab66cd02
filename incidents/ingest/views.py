"""Webhook endpoints. Answer fast, answer 2xx only once the delivery is committed.

Order of checks: size (Content-Length) -> integration (404) -> rate limit (429) -> body read
(413) -> signature (401) -> JSON and fields (400) -> store (202; 503 if the database is down).
Bad input is the sender's to fix and gets a 4xx naming the field; trouble on our side is 503,
which every sender retries.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from incidents.ingest import alertmanager, generic, grafana, pagerduty
from incidents.ingest.kick import request_processing
from incidents.ingest.payload import PayloadError, json_object
from incidents.ingest.services import accept_event, integration_for_token
from incidents.ingest.throttle import over_limit
from incidents.models import IntegrationKind

log = logging.getLogger(__name__)

PARSERS = {
    IntegrationKind.ALERTMANAGER: alertmanager.parse,
    IntegrationKind.GRAFANA: grafana.parse,
    IntegrationKind.GENERIC: generic.parse,
}


class Refusal(Exception):
    def __init__(self, status: int, message: str, field: str = "", headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def _read_body(request: HttpRequest, cap: int) -> bytes:
    """The body, at most ``cap`` bytes (413 beyond).

    With ``Transfer-Encoding: chunked`` there is no Content-Length, and Django reads such a body
    as empty. A server that de-chunks the stream and marks its end (gunicorn sets
    ``wsgi.input_terminated``) lets us read it to its end, size-limited; on any other server
    the delivery is refused with 411 rather than read as an empty body.
    """
    if _declared_length(request) is None and _is_chunked(request):
        if not request.META.get("wsgi.input_terminated"):
            raise Refusal(411, "chunked bodies are not supported here: send Content-Length")
        body = request.META["wsgi.input"].read(cap + 1)
    else:
        _precheck_length(request, cap)
        body = request.read(cap + 1)
    if len(body) > cap:
        raise Refusal(413, f"body is larger than {cap} bytes", "body")
    return body


def _is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _declared_length(request: HttpRequest) -> int | None:
    raw = (request.META.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise Refusal(400, "Content-Length is not a number", "Content-Length")
    return int(raw)


def _precheck_length(request: HttpRequest, cap: int) -> None:
    length = _declared_length(request)
    if length is not None and length > cap:
        raise Refusal(413, f"body is larger than {cap} bytes", "body")


def _rate_limit(integration) -> None:
    retry_after = over_limit(integration)
    if retry_after is not None:
        raise Refusal(
            429,
            "rate limit of this integration exceeded",
            headers={"Retry-After": str(retry_after)},
        )


def _store(integration, body: bytes, normalized: dict):
    inline = settings.INGEST_APPLY_INLINE
    event = accept_event(
        integration=integration, body=body, normalized=normalized, apply_now=inline
    )
    if event.processed_at is None:
        transaction.on_commit(request_processing, robust=True)
    return event


def _token_from_request(request: HttpRequest, url_token: str) -> str:
    # Grafana stores the URL in plain text; its Authorization header is kept secret. A sender
    # may put only the token's prefix in the URL and the whole token in the header.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return url_token


@csrf_exempt
def receive_webhook(request: HttpRequest, kind: str, token: str) -> JsonResponse:
    if request.method != "POST":
        return _json({"status": "error", "message": "use POST"}, 405, {"Allow": "POST"})
    try:
        cap = settings.INGEST_MAX_BODY_BYTES
        _precheck_length(request, cap)
        integration = integration_for_token(_token_from_request(request, token), kind=kind)
        if integration is None:
            raise Refusal(404, "no active integration of this kind has this token", "token")
        _rate_limit(integration)
        body = _read_body(request, cap)
        if kind == IntegrationKind.GRAFANA:
            try:
                grafana.verify_signature(integration, body, request.headers)
            except grafana.SignatureError as exc:
                raise Refusal(401, str(exc), "signature") from None
        try:
            normalized = PARSERS[kind](json_object(body), integration)
        except PayloadError as exc:
            raise Refusal(400, str(exc), exc.field) from None
        event = _store(integration, body, normalized)
    except Refusal as refusal:
        payload = {"status": "error", "message": refusal.message}
        if refusal.field:
            payload["field"] = refusal.field
        return _json(payload, refusal.status, refusal.headers)
    except DatabaseError as exc:
        log.warning("ingest answered 503, database trouble: %s", exc)
        return _unavailable({"status": "error", "message": "temporarily unavailable, retry"})
    answer = {"status": "accepted", "event_id": event.pk}
    if event.incident_id:
        answer["incident"] = f"INC-{event.incident_id}"
    return _json(answer, 202)


@csrf_exempt
def pagerduty_enqueue(request: HttpRequest) -> JsonResponse:
    """PagerDuty Events API v2, with PagerDuty's answers (202 / 400 invalid event / 429)."""
    if request.method != "POST":
        return _json({"status": "error", "message": "use POST"}, 405, {"Allow": "POST"})
    try:
        cap = settings.INGEST_PAGERDUTY_MAX_BODY_BYTES
        _precheck_length(request, cap)
        body = _read_body(request, cap)
        try:
            document = json_object(body)
            key = pagerduty.routing_key(document)
        except PayloadError as exc:
            raise Refusal(400, str(exc), exc.field) from None
        integration = integration_for_token(key, kind=IntegrationKind.PAGERDUTY)
        if integration is None:
            raise Refusal(404, "routing_key: no active integration has this key", "routing_key")
        _rate_limit(integration)
        try:
            normalized = pagerduty.parse(document, integration)
        except PayloadError as exc:
            raise Refusal(400, str(exc), exc.field) from None
        _store(integration, body, normalized)
    except Refusal as refusal:
        if refusal.status == 400:
            payload = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": [refusal.message],
            }
        elif refusal.status == 429:
            payload = {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly.  Please retry later.",
            }
        else:
            payload = {
                "status": "invalid event",
                "message": refusal.message,
                "errors": [refusal.message],
            }
        return _json(payload, refusal.status, refusal.headers)
    except DatabaseError as exc:
        log.warning("ingest answered 503, database trouble: %s", exc)
        return _unavailable({"status": "error", "message": "temporarily unavailable, retry"})
    return _json(
        {"status": "success", "message": "Event processed", "dedup_key": normalized["dedup_key"]},
        202,
    )


def _json(payload: dict, status: int, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _unavailable(payload: dict) -> JsonResponse:
    return _json(payload, 503, {"Retry-After": "5"})
