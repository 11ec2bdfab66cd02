"""The one family of domain errors every app raises.

A service refuses a request by raising a ``DomainError`` (or a subclass) whose message says what
was tried and why not ("cannot acknowledge INC-42: it is resolved"). Each class carries the HTTP
status and the machine-readable code callers get, so no view ever chooses a status by reading an
exception's text:

- the API's exception handler (``config.api.api_exception_handler``) answers the JSON error shape
  ``{"error": {"code", "message", "fields"}}`` with ``status``;
- web views let it propagate: ``config.web.DomainErrorMiddleware`` renders it into the page's
  ``#flash`` region for htmx requests and as a problem page for plain ones.

Subclass per app for the codes that matter to callers::

    class RunbookError(DomainError):          # 400 invalid
        status, code = 400, "invalid"
"""

from __future__ import annotations


class DomainError(Exception):
    """A domain rule refused the request. The message is safe to show the caller."""

    status: int = 409
    code: str = "conflict"

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)


class InvalidInput(DomainError):
    """The request itself is wrong (a value out of range, a missing field): 400."""

    status, code = 400, "invalid"


class NotFound(DomainError):
    """The object does not exist or belongs to another team (the two are indistinguishable)."""

    status, code = 404, "not_found"


class Forbidden(DomainError):
    """The caller's role does not allow this in that team."""

    status, code = 403, "permission_denied"


class Conflict(DomainError):
    """The object's state does not allow this now (resolved, already published...)."""

    status, code = 409, "conflict"
