"""Structured logs: who and what every log line is about, as JSON for the ELK stack.

``LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``message``, ``request_id``, ``user``, ``team``, ``incident``, ``task_id``, ``task``, ``exc``);
the default text format appends the request or task id. The context comes from contextvars:

- ``RequestContextMiddleware`` gives each request an id (the client's ``X-Request-ID`` when it
  is sane, else a new one), returns it in the ``X-Request-ID`` header and writes one access line
  per request (logger ``vigil.request``);
- every task published during a request carries that id in a message header
  (``before_task_publish``), and the worker binds it with the task id while the task runs
  (``task_prerun``), so a request and the work it caused share one id in the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from django.utils.functional import SimpleLazyObject, empty

HEADER = "vigil_request_id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
FIELDS = ("request_id", "user", "team", "incident", "task_id", "task")
_context: dict[str, contextvars.ContextVar] = {
    name: contextvars.ContextVar(f"vigil_log_{name}", default=None) for name in FIELDS
}
_request: contextvars.ContextVar = contextvars.ContextVar("vigil_log_request", default=None)
access_log = logging.getLogger("vigil.request")


def current(name: str):
    return _context[name].get()


def bind(**values) -> list:
    """Set context fields; returns tokens for ``unbind``."""
    return [(name, _context[name].set(value)) for name, value in values.items()]


def unbind(tokens: list) -> None:
    for name, token in reversed(tokens):
        _context[name].reset(token)


def _user_of(request) -> str | None:
    """The user only if already known: a log line must never cause a query."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = None if user._wrapped is empty else user._wrapped
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_username()
    return None


def _team_of(request):
    session = getattr(request, "session", None)
    cache = getattr(session, "_session_cache", None)
    return cache.get("team_id") if isinstance(cache, dict) else None


class ContextFilter(logging.Filter):
    """Adds the context fields to every record (None where unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _request.get()
        for name in FIELDS:
            value = _context[name].get()
            if value is None and request is not None:
                if name == "user":
                    value = _user_of(request)
                elif name == "team":
                    value = _team_of(request)
            setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        for name in ("method", "path", "status", "duration_ms"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{n}={getattr(record, n)}" for n in ("request_id", "task_id")
               if getattr(record, n, None)]  # fmt: skip
        return f"{line} [{' '.join(ids)}]" if ids else line


def new_request_id(given: str | None) -> str:
    if given and _SANE_ID.match(given):
        return given
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Binds the request id (and, once known, user, team, incident) to every log line."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.log_requests = settings.LOG_REQUESTS

    def __call__(self, request):
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        # Every field bound (None but the id), so resetting them ends whatever the view bound.
        tokens = bind(**{**dict.fromkeys(FIELDS), "request_id": request_id})
        request_token = _request.set(request)
        started = time.monotonic()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            if self.log_requests:
                self._access_line(request, status, started)
            _request.reset(request_token)
            unbind(tokens)

    @staticmethod
    def _access_line(request, status: int, started: float) -> None:
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "method": request.method,
                "path": request.path[:500],
                "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and (match.url_name or "").startswith("incident-"):
            incident = view_kwargs.get("pk")
            if incident is not None:
                bind(incident=incident)  # undone by __call__'s reset of the same variable
        return None


# --- Celery -------------------------------------------------------------------------------

_task_tokens: dict[str, list] = {}


def _on_publish(headers=None, **kwargs) -> None:
    request_id = current("request_id")
    if request_id and headers is not None:
        headers[HEADER] = request_id


def _on_prerun(task_id=None, task=None, kwargs=None, **extra) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, HEADER, None)
    if request_id is None:
        request_id = (getattr(request, "headers", None) or {}).get(HEADER)
    values = {"task_id": task_id, "task": getattr(task, "name", None), "request_id": request_id}
    incident = (kwargs or {}).get("incident_id")
    if incident is not None:
        values["incident"] = incident
    _task_tokens[task_id] = bind(**values)


def _on_postrun(task_id=None, **kwargs) -> None:
    tokens = _task_tokens.pop(task_id, None)
    if tokens:
        try:
            unbind(tokens)
        except ValueError:  # reset from another context (eager nesting): just clear
            bind(**dict.fromkeys(FIELDS))


def _use_django_logging(**kwargs) -> None:
    """Connected to setup_logging: workers and beat keep Django's LOGGING (JSON too)."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def connect_celery_signals() -> None:
    from celery import signals

    signals.before_task_publish.connect(_on_publish, dispatch_uid="vigil-log-publish", weak=False)
    signals.task_prerun.connect(_on_prerun, dispatch_uid="vigil-log-prerun", weak=False)
    signals.task_postrun.connect(_on_postrun, dispatch_uid="vigil-log-postrun", weak=False)
    signals.setup_logging.connect(_use_django_logging, dispatch_uid="vigil-log-setup", weak=False)


# Celery's own line per task received, succeeded and sent by beat: with a probe tick every
# second they were most of the log. Our services log what a task did (an incident transition,
# a delivery); failures still reach the log (celery logs them at ERROR).
CHATTY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


def logging_config(*, fmt: str, level: str) -> dict:
    chatty_level = "DEBUG" if level.upper() == "DEBUG" else "WARNING"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logs.ContextFilter"}},
        "formatters": {
            "json": {"()": "config.logs.JsonFormatter"},
            "text": {"()": "config.logs.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt == "json" else "text",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            **{name: {"level": chatty_level} for name in CHATTY_LOGGERS},
            # Django logs every 4xx at WARNING ("Not Found: /favicon.ico"); the access line
            # (vigil.request) already has each status, so only 5xx errors come from here.
            "django.request": {"level": "ERROR"},
        },
    }
