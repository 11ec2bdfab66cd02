"""Drills run against the real probe engine (a local HTTP target) and the real escalation path
(the oncall fixtures: eager Celery, loopback allowed, a four-level policy)."""

from tests.monitoring.conftest import loopback_allowed, target  # noqa: F401
from tests.oncall.conftest import (  # noqa: F401
    _eager_celery,
    _oncall_settings,
    committed,
    ladder,
    receiver,
)
