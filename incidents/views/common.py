"""What the triage views share: answering a refused or bad request the way the client expects."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import reswap, retarget


def flash_error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """htmx: the message goes into the page's alert region (vigil.js lets htmx swap 4xx)."""
    response = render(request, "incidents/_flash.html", {"error": message}, status=status)
    return reswap(retarget(response, "#flash"), "innerHTML")


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return flash_error(request, message, 400)
    return render(request, "incidents/problem.html", {"message": message}, status=400)


def refuse(request: HttpRequest, message: str, status: int, back_to: str) -> HttpResponse:
    """A refused write: htmx shows the message in place; a plain form post gets it as a
    message on the page it came from (403 keeps its status: nothing to go back to)."""
    if request.htmx:
        return flash_error(request, message, status)
    if status == 403:
        return render(request, "incidents/problem.html", {"message": message}, status=403)
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
