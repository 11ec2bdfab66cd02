"""Talking to Vigil with the standard library only (no Django, no extra dependency)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


class VigilUnreachable(Exception):
    pass


def request_json(
    method: str,
    url: str,
    *,
    token: str,
    body: dict | None = None,
    headers: dict | None = None,
    timeout: float = 2.0,
) -> tuple[int, dict | None, dict]:
    """``(status, json or None, headers)``; raises VigilUnreachable on network trouble or 5xx."""
    if not url.startswith(("http://", "https://")):
        raise VigilUnreachable(f"Vigil URL must be http(s): {url[:80]}")
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - checked above
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            return response.status, (json.loads(raw) if raw else None), dict(response.headers)
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return 304, None, dict(exc.headers)
        if exc.code >= 500:
            raise VigilUnreachable(f"Vigil answered {exc.code}") from None
        try:
            payload = json.loads(exc.read() or b"null")
        except ValueError:
            payload = None
        return exc.code, payload, dict(exc.headers)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise VigilUnreachable(str(exc)) from None
