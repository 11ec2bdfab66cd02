from __future__ import annotations

import factory
from django.utils import timezone

from monitoring.models import Heartbeat, Probe
from tests.factories import ServiceFactory


class ProbeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Probe

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"probe-{n}")
    url = "http://127.0.0.1:9/health"
    timeout_seconds = 2.0
    interval_seconds = 60
    next_due_at = factory.LazyFunction(timezone.now)


class HeartbeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Heartbeat

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"nightly-backup-{n}")
    period_seconds = 3600
    grace_seconds = 600
