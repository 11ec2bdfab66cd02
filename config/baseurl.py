"""The public base URL of this Vigil for URLs people copy into other tools.

``VIGIL_BASE_URL`` when it is set; otherwise the host and port the browser used to reach this
page (so a server on port 8080 does not print URLs on 8000); otherwise the default.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_base_url(request: HttpRequest | None = None) -> str:
    if settings.BASE_URL_CONFIGURED or request is None:
        return settings.BASE_URL
    try:
        return request.build_absolute_uri("/").rstrip("/")
    except Exception:  # DisallowedHost and friends: never fail a page for a URL hint
        return settings.BASE_URL
