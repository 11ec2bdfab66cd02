"""Login with a throttle per account and per client address (REFERENCE security requirement 9).

Failed attempts are counted in the cache (Redis in production, shared by every web process) in
fixed windows. Past the limit the login answers 429 with Retry-After, even for the right
password: otherwise a guesser would learn the password the moment it is found.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpResponse

from accounts.audit import client_ip


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    keys = [(f"login-fail:account:{account}", settings.LOGIN_THROTTLE_ACCOUNT_FAILURES)]
    if ip:
        keys.append((f"login-fail:ip:{ip}", settings.LOGIN_THROTTLE_IP_FAILURES))
    return keys


def retry_after(username: str, ip: str | None) -> int:
    """Seconds until this account and address may try again; 0 when they may now."""
    wait = 0
    now = time.time()
    for key, limit in _keys(username, ip):
        if (cache.get(key) or 0) >= limit:
            until = cache.get(f"{key}:until") or now + settings.LOGIN_THROTTLE_WINDOW_SECONDS
            wait = max(wait, math.ceil(until - now), 1)
    return wait


def record_failure(username: str, ip: str | None) -> None:
    window = settings.LOGIN_THROTTLE_WINDOW_SECONDS
    for key, _limit in _keys(username, ip):
        cache.add(f"{key}:until", time.time() + window, window)
        if cache.add(key, 1, window):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, window)


def forget_account_failures(username: str) -> None:
    """A successful login clears the account's count (not the address's: one good password
    must not reset a spray of guesses at other accounts from the same address)."""
    key, _limit = _keys(username, None)[0]
    cache.delete_many([key, f"{key}:until"])


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")
        wait = retry_after(username, client_ip(request))
        if wait:
            form = self.get_form()
            response = self.render_to_response(
                self.get_context_data(form=form, throttled=True, retry_after=wait)
            )
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        record_failure(self.request.POST.get("username", ""), client_ip(self.request))
        return super().form_invalid(form)

    def form_valid(self, form) -> HttpResponse:
        forget_account_failures(self.request.POST.get("username", ""))
        return super().form_valid(form)
