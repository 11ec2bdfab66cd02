"""The model-endpoints section of a service's page (incidents.service_sections)."""

from __future__ import annotations

from llm.models import ModelEndpoint, RouteState


def model_endpoints_section(service, user) -> dict:
    """Two queries: the endpoints in tier order and the active route. Shown to managers even
    when empty, so they find where endpoints are added."""
    endpoints = list(
        ModelEndpoint.objects.filter(service=service)
        .only("name", "provider", "model", "tier", "breaker_state")
        .order_by("tier", "name")
    )
    route = RouteState.objects.filter(service=service).only("tier").first()
    return {"endpoints": endpoints, "route": route}
