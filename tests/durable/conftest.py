"""Fixtures of the durable-event tests: the oncall test fixtures (loopback receiver, SMTP,
four-level ladder, eager Celery) and a way to inject failures into one receiver."""

from __future__ import annotations

import pytest

from tests.oncall.conftest import (  # noqa: F401  (fixtures reused as they are)
    _eager_celery,
    _oncall_settings,
    ladder,
    receiver,
    smtp_server,
)


class Flaky:
    """Wraps a function: raises ``times`` times (a database hiccup), then calls through."""

    def __init__(self, fn, times: int):
        self.fn, self.times, self.calls = fn, times, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.times:
            from django.db import OperationalError

            raise OperationalError(f"injected failure {self.calls} of {self.times}")
        return self.fn(*args, **kwargs)


@pytest.fixture
def inject_failures(monkeypatch):
    """``inject_failures(module, "name", times)`` makes module.name fail ``times`` times."""

    def inject(module, name: str, times: int = 1) -> Flaky:
        flaky = Flaky(getattr(module, name), times)
        monkeypatch.setattr(module, name, flaky)
        return flaky

    return inject


@pytest.fixture(autouse=True)
def _event_settings(settings):
    settings.EVENTS_REDISPATCH_AFTER_SECONDS = 3.0
    settings.EVENTS_RETRY_BASE_SECONDS = 5.0
    settings.EVENTS_RETRY_MAX_SECONDS = 600.0
    settings.EVENTS_STUCK_SECONDS = 60
