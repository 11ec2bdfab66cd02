"""Demo model endpoints and a day of telemetry (registered with incidents.demo, run by seed_demo).

The endpoints point at public provider URLs without keys, so their probes are off: a demo must
not page anyone about a model it cannot reach. The telemetry is synthetic and deterministic.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from incidents.models import Service
from llm import routing, signals, telemetry
from llm.models import LlmPolicy, ModelEndpoint, Provider, TelemetryEvent

ENDPOINTS = (
    ("frontier", Provider.OPENAI, "https://api.openai.com/v1", "gpt-5-mini", 1, "0.00025", "0.002"),
    ("other-provider", Provider.ANTHROPIC, "https://api.anthropic.com", "claude-haiku-4-5", 2,
     "0.001", "0.005"),
    ("local", Provider.OPENAI, "https://llm.internal.example/v1", "llama-3.1-8b", 3, "0", "0"),
)  # fmt: skip


def seed_demo_models(*, team, author) -> str:
    service = Service.objects.filter(team=team, slug="sales-avatar").first()
    if service is None or ModelEndpoint.objects.filter(service=service).exists():
        return ""
    endpoints = [
        ModelEndpoint.objects.create(
            service=service, name=name, provider=provider, base_url=url, model=model, tier=tier,
            price_in_per_1k=Decimal(p_in), price_out_per_1k=Decimal(p_out), probe_enabled=False,
        )
        for name, provider, url, model, tier, p_in, p_out in ENDPOINTS
    ]  # fmt: skip
    LlmPolicy.objects.get_or_create(service=service, defaults={"daily_budget": Decimal("25")})
    routing.recompute_route(service_id=service.pk, reason="demo endpoints configured")
    now = timezone.now()
    primary = endpoints[0]
    rows = []
    for minute in range(24 * 60, 0, -2):
        at = now - timedelta(minutes=minute)
        for i in range(3):
            latency = 700 + (minute * 7 + i * 131) % 900 + (2500 if minute % 240 < 6 else 0)
            outcome = "ok" if (minute + i) % 97 else "rate_limit"
            tokens_in, tokens_out = 600 + (minute * 13) % 700, 80 + (minute * 5) % 200
            cost = (
                primary.price_in_per_1k * tokens_in + primary.price_out_per_1k * tokens_out
            ) / 1000
            feedback = -1.0 if (minute + i) % 53 == 0 else None
            rows.append((service.pk, primary.pk, at, at, latency, latency // 4, outcome, tokens_in,
                         tokens_out, cost.quantize(Decimal("0.000001")), feedback))  # fmt: skip
    telemetry.insert_rows(rows)
    telemetry.rollup_since(now - timedelta(days=2))
    signals.record_hours(service=service, now=now, hours=24)
    signals.compute_baselines(service=service, now=now)
    return f"3 model endpoints on {service.slug} and {TelemetryEvent.objects.filter(service=service).count()} telemetry events"
