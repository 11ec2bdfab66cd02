"""Refuse NUL characters in the query string before any view reads it.

PostgreSQL cannot hold NUL in text, so a search for ``?q=%00`` used to reach the database and
fail there (a 500). Request bodies are covered elsewhere: form and serializer fields refuse NUL
(Django's ProhibitNullCharactersValidator), webhook payloads are made storable, and Markdown
previews refuse it (incidents.markdown). This middleware answers 400 naming the parameter.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("QUERY_STRING", "")
        if "%00" in raw or "\x00" in raw:
            names = [name for name, value in request.GET.lists() if any("\x00" in v for v in value)]
            names += [name for name in request.GET if "\x00" in name]
            where = ", ".join(sorted(set(names))) or "the query string"
            message = f"{where}: NUL characters are not accepted"
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"error": {"code": "invalid", "message": message, "fields": {}}}, status=400
                )
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
