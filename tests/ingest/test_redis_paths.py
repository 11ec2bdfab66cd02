"""The rate limit and the worker kick on a real Redis (the rest of the suite uses a local cache)."""

import pytest
from django.core.cache import caches

from incidents.ingest import kick, throttle
from tests.ingest.factories import make_integration

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def redis_cache(settings, redis_url, redis_prefix):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,  # deleted after the test (no FLUSHDB under xdist)
        }
    }
    throttle.cache_breaker.reset()
    return caches["default"]


def test_the_raw_redis_client_is_found_behind_the_cache(redis_cache):
    client = throttle.redis_client()
    assert client is not None
    assert client is throttle.redis_client()  # built once per process, not per call
    assert client.ping()


def test_rate_limit_counts_in_redis_with_one_pipeline(redis_cache, service):
    integration, _ = make_integration(service, "generic", rate_limit_per_minute=2)
    now = 1_800_000_000.0  # the start of a minute window
    assert throttle.over_limit(integration, now=now) is None
    assert throttle.over_limit(integration, now=now + 1) is None
    assert throttle.over_limit(integration, now=now + 2) == 58
    key = redis_cache.make_and_validate_key(f"ingest:rate:{integration.pk}:{int(now // 60)}")
    client = throttle.redis_client()
    assert int(client.get(key)) == 3
    assert 0 < client.ttl(key) <= 90


def test_kick_publishes_once_until_a_worker_starts_scanning(redis_cache, monkeypatch):
    published = []
    monkeypatch.setattr("incidents.tasks.apply_inbound_events.delay", lambda: published.append(1))
    kick.broker_breaker.reset()
    kick.request_processing()
    kick.request_processing()
    assert published == [1]
    kick.scan_started()
    kick.request_processing()
    assert published == [1, 1]
