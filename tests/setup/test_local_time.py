"""Times on the set-up pages are shown in the viewer's zone, with the date when not today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.template import Context, Template
from django.utils import timezone


def _render(value, zone: str) -> str:
    request = SimpleNamespace(user=SimpleNamespace(time_zone=zone))
    template = Template("{% load setup_pages %}{% when value %}")
    return template.render(Context({"value": value, "request": request}))


def test_today_shows_the_time_in_the_viewers_zone():
    now = timezone.now().replace(second=0, microsecond=0)
    zone = "UTC"
    assert f">{now:%H:%M}<" in _render(now, zone)


def test_another_day_shows_the_date_converted_to_the_viewers_zone():
    value = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)
    assert ">2024-03-02 08:30<" in _render(value, "Asia/Tokyo")
    assert 'datetime="2024-03-01T23:30:00+00:00"' in _render(value, "Asia/Tokyo")


def test_unknown_zone_falls_back_to_utc_and_none_shows_a_dash():
    value = timezone.now() - timedelta(days=400)
    assert f">{value:%Y-%m-%d %H:%M}<" in _render(value, "Not/AZone")
    assert _render(None, "UTC") == "—"
