"""How every htmx page answers a refused or bad request: one place, one idiom.

Views raise; they do not build error responses. A ``DomainError`` (and Django's ``Http404`` /
``PermissionDenied``) raised by a view becomes:

- for an htmx request: the message swapped into the page's ``#flash`` region with the error's
  status (vigil.js lets htmx swap 400/403/404/409/429), never a bare error page inside a panel;
- for a plain request: the problem page with the status and a way back.

``refuse()`` stays for views that want a plain form post to go back to its page with a message.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import reswap, retarget

from config.errors import DomainError


def flash_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """htmx: the message goes into the page's alert region (vigil.js lets htmx swap 4xx)."""
    response = render(request, "incidents/_flash.html", {"error": message}, status=status)
    return reswap(retarget(response, "#flash"), "innerHTML")


def problem(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if getattr(request, "htmx", False):
        return flash_error(request, message, status)
    return render(request, "incidents/problem.html", {"message": message}, status=status)


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    return problem(request, message, 400)


def refuse(request: HttpRequest, message: str, status: int, back_to: str) -> HttpResponse:
    """A refused write: htmx shows the message in place; a plain form post gets it as a
    message on the page it came from (403/404 keep their status: nothing to go back to)."""
    if request.htmx or status in (403, 404):
        return problem(request, message, status)
    messages.error(request, message)
    return see_other(back_to)


def wants_fragment(request: HttpRequest) -> bool:
    """An htmx request for part of the page. A history restore (back button with htmx's
    history cache off) asks for the whole page, so it gets the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def see_other(url: str) -> HttpResponse:
    response = redirect(url)
    response.status_code = 303
    return response


class DomainErrorMiddleware:
    """Turns exceptions raised by page views into the answer the client expects.

    API views never reach this: DRF's exception handler answers them first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return problem(request, exception.message, exception.status)
        if getattr(request, "htmx", False):
            if isinstance(exception, Http404):
                return flash_error(request, "Not found, or not in one of your teams.", 404)
            if isinstance(exception, PermissionDenied):
                message = str(exception) or "Your role in this team does not allow that."
                return flash_error(request, message, 403)
        return None
