"""Shared test set-up.

Tests run on whatever DATABASE_URL names (PostgreSQL on CI) and fall back to SQLite. Tests that
need PostgreSQL or Redis carry the ``postgres`` / ``redis`` marks and are skipped, with the
reason, only where those are absent.
"""

from __future__ import annotations

import os
import re

import pytest
from django.conf import settings


def pytest_configure(config):
    # CI runs everything: a local ``-m "not slow"`` (make test-quick) must not leak into it.
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and "slow" in (
        config.option.markexpr or ""
    ):
        raise pytest.UsageError("CI=true runs the slow tests too: drop 'slow' from -m")
    # Celery never talks to a broker from tests unless a test asks for it explicitly.
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Events of ingest batches and probe runs are dispatched after commit in the test's own
    # process, as a request's are; tests of the deferred path switch it on.
    settings.EVENTS_DEFER_BATCH_DISPATCH = False
    # Full-strength PBKDF2 costs a noticeable slice of a second per factory user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _postgres_reason() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"
    return None


def _redis_reason() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return "needs Redis: set REDIS_URL=redis://... (CI does)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"Redis at {url} unreachable: {exc}"
    return None


def pytest_collection_modifyitems(config, items):
    pg_reason = _postgres_reason()
    redis_reason = None
    checked_redis = False
    for item in items:
        if pg_reason and item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason=pg_reason))
        if item.get_closest_marker("redis"):
            if not checked_redis:
                redis_reason, checked_redis = _redis_reason(), True
            if redis_reason:
                item.add_marker(pytest.mark.skip(reason=redis_reason))


@pytest.fixture
def redis_url() -> str:
    reason = _redis_reason()
    if reason:
        pytest.skip(reason)
    return os.environ["REDIS_URL"]


@pytest.fixture
def redis_prefix(redis_url, request):
    """A cache KEY_PREFIX of this test's own on the shared Redis database.

    Parallel workers (pytest-xdist) share REDIS_URL's database and may number their rows alike
    (each has its own PostgreSQL database), so a test's keys carry the worker and test name,
    and the test deletes only those afterwards: never FLUSHDB (``cache.clear()``), which would
    wipe another worker's counters mid-test."""
    import redis

    name = re.sub(r"[^A-Za-z0-9_]+", "-", request.node.name)  # no glob characters in SCAN
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # also without the xdist plugin
    prefix = f"vigil-test-{worker}-{name}"[:120]
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    """Each test gets an empty local cache, so counters and throttles never leak between tests."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }


@pytest.fixture
def team(db):
    from tests.factories import TeamFactory

    return TeamFactory()


@pytest.fixture
def service(team):
    from tests.factories import ServiceFactory

    return ServiceFactory(team=team)


def _member(team, role):
    from tests.factories import MembershipFactory

    return MembershipFactory(team=team, role=role).user


@pytest.fixture
def viewer(team):
    from accounts.models import Role

    return _member(team, Role.VIEWER)


@pytest.fixture
def responder(team):
    from accounts.models import Role

    return _member(team, Role.RESPONDER)


@pytest.fixture
def manager(team):
    from accounts.models import Role

    return _member(team, Role.MANAGER)


@pytest.fixture
def team_admin(team):
    from accounts.models import Role

    return _member(team, Role.ADMIN)


@pytest.fixture
def outsider(db):
    """A user who belongs to another team only."""
    from accounts.models import Role
    from tests.factories import TeamFactory

    return _member(TeamFactory(), Role.ADMIN)
