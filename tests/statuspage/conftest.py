"""Fixtures of the status-page tests: a page showing the team's service, events run after
commit, eager Celery for deliveries, loopback allowed for webhook receivers."""

from __future__ import annotations

import ipaddress

import pytest

from incidents import services as incident_services
from incidents.actors import Actor
from tests.oncall.conftest import Receiver
from tests.statuspage.factories import ComponentFactory, StatusPageFactory


@pytest.fixture(autouse=True)
def _status_settings(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    settings.OUTBOUND_TIMEOUT_SECONDS = 5.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "https://vigil.example"
    settings.ALLOWED_HOSTS = ["*"]


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """Each test starts with an empty cache (tests/conftest.py); so must the per-process copy."""
    from statuspage import cache

    cache._local.clear()
    yield
    cache._local.clear()


@pytest.fixture(autouse=True)
def _eager_celery():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def page(team):
    return StatusPageFactory(team=team, slug="acme", title="Acme assistants")


@pytest.fixture
def component(page, service):
    return ComponentFactory(page=page, name="Website chat", services=[service])


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block and its after-commit callbacks (events, cache bumps, deliveries)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def open_incident(committed):
    def opener(service, severity=3, title="Sales avatar silent", **kwargs):
        incident, created = committed(
            incident_services.open_incident,
            service=service,
            title=title,
            severity=severity,
            actor=Actor.system("test"),
            **kwargs,
        )
        assert created
        return incident

    return opener
