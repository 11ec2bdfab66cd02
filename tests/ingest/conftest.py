from __future__ import annotations

import json

import pytest

from tests.ingest.factories import make_integration


@pytest.fixture
def inline(settings):
    settings.INGEST_APPLY_INLINE = True
    return settings


@pytest.fixture
def alertmanager(service, inline):
    return make_integration(service, "alertmanager")


@pytest.fixture
def grafana(service, inline):
    return make_integration(service, "grafana")


@pytest.fixture
def pagerduty(service, inline):
    return make_integration(service, "pagerduty")


@pytest.fixture
def generic(service, inline):
    return make_integration(service, "generic")


@pytest.fixture
def post_json(client):
    def post(path: str, document, **headers):
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        return client.post(path, data=body, content_type="application/json", **headers)

    return post


def pytest_configure(config):
    # Django's live server listens with a backlog of 5; fifty senders connecting at once (the
    # race test) would be reset by the kernel before Django sees them. Real servers use more.
    from django.core.servers.basehttp import ThreadedWSGIServer

    ThreadedWSGIServer.request_queue_size = 128
