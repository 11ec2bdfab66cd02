from __future__ import annotations

import uuid as uuid_lib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import client_ip
from monitoring import metrics
from monitoring.models import PingKind
from monitoring.pings import Ping, record_ping


def _ping(request: HttpRequest, uuid: str, kind: str, exit_status=None) -> HttpResponse:
    body = request.read(settings.PING_BODY_LIMIT) if request.method == "POST" else b""
    ping = Ping.of(
        kind=kind,
        exit_status=exit_status,
        method=request.method,
        remote_addr=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        body=body,
    )
    if not record_ping(uuid=uuid_lib.UUID(uuid), ping=ping, now=timezone.now()):
        response = HttpResponse("not found", status=404, content_type="text/plain")
    else:
        response = HttpResponse("OK", content_type="text/plain")
    # Pings come from cron jobs, scripts and browsers alike (healthchecks.io does the same).
    response["Access-Control-Allow-Origin"] = "*"
    return response


_ping_methods = require_http_methods(["GET", "POST", "HEAD"])


@csrf_exempt
@_ping_methods
def ping_success(request: HttpRequest, uuid: str) -> HttpResponse:
    return _ping(request, uuid, PingKind.SUCCESS)


@csrf_exempt
@_ping_methods
def ping_start(request: HttpRequest, uuid: str) -> HttpResponse:
    return _ping(request, uuid, PingKind.START)


@csrf_exempt
@_ping_methods
def ping_fail(request: HttpRequest, uuid: str) -> HttpResponse:
    return _ping(request, uuid, PingKind.FAIL)


@csrf_exempt
@_ping_methods
def ping_exit_status(request: HttpRequest, uuid: str, exit_status: str) -> HttpResponse:
    exit_status = int(exit_status)
    if exit_status > 255:
        return HttpResponseBadRequest("exit status must be 0-255", content_type="text/plain")
    kind = PingKind.SUCCESS if exit_status == 0 else PingKind.FAIL
    return _ping(request, uuid, kind, exit_status)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.META.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not constant_time_compare(supplied, token):
            response = HttpResponse(
                "metrics need the bearer token", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    body, content_type = metrics.exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)
