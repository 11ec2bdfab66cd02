from __future__ import annotations

import factory

from llm.models import ModelEndpoint, Provider
from tests.factories import ServiceFactory


class ModelEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelEndpoint

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"model-{n}")
    provider = Provider.OPENAI
    base_url = "https://api.example.com/v1"
    model = "gpt-test"
    tier = 1
    # Short thresholds so no test waits long.
    slow_call_ms = 300
    minimum_calls = 2
    window_seconds = 60
    open_wait_seconds = 0
    half_open_calls = 2
    probe_timeout_seconds = 1.0
    probe_interval_seconds = 30
