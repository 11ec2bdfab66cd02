"""Login with a throttle per account and per client address (REFERENCE security requirement 9).

Attempts are counted in fixed windows on the shared counter of ``config/ratelimit.py`` (Redis
in production, shared by every web process). Each attempt takes its place in the count
atomically *before* the password is checked, so fifty guesses sent at once get at most the
limit's worth of password checks, not fifty. Past the limit the login answers 429 with
Retry-After, even for the right password: otherwise a guesser would learn the password the
moment it is found. A successful login clears the account's count and gives its place in the
address's count back.

The account key is the username as authentication reads it: NFKC (Django's
``normalize_username``) then case folding, so "ＡＬＩＣＥ" and "alice" share one count.

If the cache is down the throttle fails open (logged), and skips the cache for a few seconds so
each login does not wait for a connect timeout: logging in must work when Redis does not.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpResponse

from accounts.audit import client_ip
from config.ratelimit import Breaker, count_hit, forget, window

log = logging.getLogger(__name__)

cache_breaker = Breaker(pause=10.0)


def throttle_name(username: str) -> str:
    """The account as the throttle counts it: NFKC, case-folded, trimmed."""
    return AbstractBaseUser.normalize_username(username or "").casefold().strip()


def _keys(username: str, ip: str | None, number: int) -> list[tuple[str, int]]:
    account = hashlib.sha256(throttle_name(username).encode("utf-8", "replace")).hexdigest()[:32]
    keys = [(f"login:account:{account}:{number}", settings.LOGIN_THROTTLE_ACCOUNT_FAILURES)]
    if ip:
        keys.append((f"login:ip:{ip}:{number}", settings.LOGIN_THROTTLE_IP_FAILURES))
    return keys


def take_attempt(username: str, ip: str | None) -> int:
    """Count one attempt; return 0 when it may go ahead, else the seconds to wait."""
    if not cache_breaker.allows():
        return 0
    period = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    number, remaining = window(period)
    wait = 0
    try:
        for key, limit in _keys(username, ip, number):
            if count_hit(key, ttl=period + 1) > limit:
                wait = remaining
    except Exception as exc:  # noqa: BLE001 - any cache failure: let the login through
        cache_breaker.trip()
        log.warning("login throttle skipped, cache unavailable: %s", exc)
        return 0
    return wait


def succeeded(username: str, ip: str | None) -> None:
    """Clear the account's count; give the address back the place this attempt took (one good
    password must not reset a spray of guesses at other accounts from the same address)."""
    if not cache_breaker.allows():
        return
    period = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    number, _ = window(period)
    keys = _keys(username, ip, number)
    try:
        forget(keys[0][0])
        if len(keys) > 1:
            count_hit(keys[1][0], ttl=period + 1, amount=-1)
    except Exception as exc:  # noqa: BLE001
        cache_breaker.trip()
        log.warning("login throttle not cleared, cache unavailable: %s", exc)


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        wait = take_attempt(request.POST.get("username", ""), client_ip(request))
        if wait:
            form = self.get_form()
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=True, retry_after=wait)
            )
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        succeeded(self.request.POST.get("username", ""), client_ip(self.request))
        return super().form_valid(form)
