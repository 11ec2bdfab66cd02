"""The AI-health page in a real browser: charts render under the strict CSP, at 375 px too."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from llm import telemetry
from llm.routing import recompute_route
from tests.llm.factories import ModelEndpointFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_health_page_charts_render_without_csp_violations(
    live_server, new_page, login, viewer, service, artifacts
):
    primary = ModelEndpointFactory(service=service, name="primary", minimum_calls=100000)
    ModelEndpointFactory(service=service, name="local", tier=2)
    recompute_route(service_id=service.pk, reason="set up")
    now = timezone.now()
    rows = []
    for minute in range(60, 0, -3):
        for i in range(5):
            rows.append((service.pk, primary.pk, now - timedelta(minutes=minute, seconds=i),
                         now, 400 + minute * 10 + i * 50, 120 + i * 10,
                         "ok" if i else "timeout", 300, 80, Decimal("0.002"), None))  # fmt: skip
    telemetry.insert_rows(rows)
    telemetry.rollup_since(now - timedelta(minutes=1))

    violations = []
    for width in (1280, 375):
        page = login(new_page({"width": width, "height": 900}), viewer)
        page.on(
            "console",
            lambda msg: (
                violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        page.goto(f"{live_server.url}/llm/{service.slug}/?window=1h")
        expect(page.locator("svg.chart").first).to_be_visible()
        assert page.locator("svg.chart polyline").count() > 3
        # Nothing wider than the viewport at 375 px (tables scroll inside their box).
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        page.screenshot(path=artifacts / f"llm-health-{width}.png", full_page=True)
    assert violations == []
