"""The login throttle on the shared fixed-window counter (config/ratelimit.py): keys normalised
like authentication, atomic under concurrency, failing open when Redis is down."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from accounts import login
from config import ratelimit
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def throttle(settings):
    settings.LOGIN_THROTTLE_ACCOUNT_FAILURES = 3
    settings.LOGIN_THROTTLE_IP_FAILURES = 1000
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 600
    login.cache_breaker.reset()
    yield settings
    login.cache_breaker.reset()


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "vigil-test-login",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    caches["default"].clear()
    yield caches["default"]
    caches["default"].clear()


def _login(client, username, password, ip="203.0.113.5"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize(
    "spelling",
    ["ＡＬＩＣＥ", "Alice", "alice ", "ａｌｉｃｅ"],
    ids=["fullwidth-upper", "case", "space", "fullwidth"],
)
@pytest.mark.django_db
def test_other_spellings_of_a_username_share_its_lockout(throttle, spelling):
    UserFactory(username="alice")
    client = Client()
    for _ in range(3):
        assert _login(client, spelling, "wrong").status_code == 200
    locked = _login(Client(), "alice", PASSWORD, ip="198.51.100.7")
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 600


def test_throttle_name_is_nfkc_then_case_folded():
    assert login.throttle_name("ＡＬＩＣＥ") == login.throttle_name("alice") == "alice"
    assert login.throttle_name("Straße") == login.throttle_name("STRASSE")


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_get_at_most_the_limit_of_password_checks(throttle, redis_cache):
    user = UserFactory(username="bob")
    statuses: list[int] = []
    start = threading.Barrier(24)

    def guess(n: int) -> None:
        client = Client()
        start.wait()
        statuses.append(_login(client, "bob", "wrong", ip=f"198.51.100.{n}").status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 3 + [429] * 21
    number, _ = ratelimit.window(600)
    account_key = login._keys("bob", None, number)[0][0]
    assert redis_cache.get(account_key) == 24  # every attempt counted, none lost
    assert _login(Client(), user.username, PASSWORD, ip="192.0.2.1").status_code == 429


@pytest.mark.django_db
def test_login_works_when_redis_is_down(throttle, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    user = UserFactory()
    client = Client()
    assert _login(client, user.username, "wrong").status_code == 200
    assert not login.cache_breaker.allows()  # the next logins skip the dead cache
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.get("/incidents/").status_code == 200


# --- the counter's Redis client (issue 19) ------------------------------------------------


@pytest.mark.redis
def test_counter_client_is_built_from_the_cache_url_without_private_attributes(
    redis_cache, redis_url, monkeypatch
):
    def private_attribute_used(self):
        raise AssertionError("config.ratelimit reached into RedisCache._cache")

    monkeypatch.setattr(RedisCache, "_cache", property(private_attribute_used))
    client = ratelimit.redis_client()
    assert client is ratelimit.redis_client()  # built once per process and URL
    kwargs = client.connection_pool.connection_kwargs
    url = urlsplit(redis_url)
    assert (kwargs["host"], kwargs["port"]) == (url.hostname, url.port or 6379)
    assert kwargs["db"] == int((url.path or "/0").lstrip("/") or 0)
    assert kwargs["socket_connect_timeout"] == 1

    assert ratelimit.count_hit("pinned", ttl=60) == 1
    assert ratelimit.count_hit("pinned", ttl=60) == 2
    monkeypatch.undo()
    # The same key and database as the cache: Django reads the counter back.
    assert redis_cache.get("pinned") == 2
    ratelimit.forget("pinned")
    assert redis_cache.get("pinned") is None
