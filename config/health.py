"""Liveness and readiness.

/healthz answers as long as the process serves requests. /readyz asks each registered check
(database and broker here; apps add their own, e.g. the scheduler's last tick) and answers 503
with a JSON body naming every check that failed. Advisory checks (self-watch: beat, workers,
ingest backlog; the ingest back-pressure bound) are named in the body with status "degraded" but keep the answer 200.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

# A check returns None when healthy, or a short description of what is wrong.
ReadinessCheck = Callable[[], "str | None"]
_checks: dict[str, ReadinessCheck] = {}
# Checks that name trouble without taking this web process out of the load balancer: a
# stopped beat must not also stop alert ingestion (the body says "degraded" and names them).
_advisory: set[str] = set()


def register_readiness_check(name: str, check: ReadinessCheck, *, advisory: bool = False) -> None:
    _checks[name] = check
    if advisory:
        _advisory.add(name)
    else:
        _advisory.discard(name)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        return f"database unreachable: {exc.__class__.__name__}: {exc}"
    return None


def check_broker() -> str | None:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    except Exception as exc:
        return f"broker unreachable: {exc.__class__.__name__}: {exc}"
    return None


def check_event_dispatch() -> str | None:
    from incidents.outbox import dispatch_problem

    return dispatch_problem()


def check_ingest_backlog() -> str | None:
    from incidents.backpressure import readiness_problem

    return readiness_problem()


register_readiness_check("database", check_database)
register_readiness_check("broker", check_broker)
register_readiness_check("event_dispatch", check_event_dispatch, advisory=True)
# A deep ingest backlog is reported, never a reason to stop accepting alerts (docs/scaling.md).
register_readiness_check("ingest_backpressure", check_ingest_backlog, advisory=True)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results = {}
    for name, check in list(_checks.items()):
        try:
            results[name] = check()
        except Exception as exc:  # a broken check is a failing check, never a 500
            results[name] = f"check failed: {exc.__class__.__name__}: {exc}"
    failing = {name for name, problem in results.items() if problem and name not in _advisory}
    degraded = sorted(name for name, problem in results.items() if problem and name in _advisory)
    body = {
        "status": "unavailable" if failing else "degraded" if degraded else "ok",
        "checks": {name: problem or "ok" for name, problem in results.items()},
    }
    if degraded:
        body["degraded"] = degraded
    return JsonResponse(body, status=503 if failing else 200)
