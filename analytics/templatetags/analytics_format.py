"""How the report shows raw figures to people (the CSV keeps them raw)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils.formats import date_format, number_format

from postmortems.facts import human_duration

register = template.Library()


@register.filter
def duration(seconds) -> str:
    if seconds is None:
        return "—"
    return human_duration(timedelta(seconds=round(float(seconds))))


@register.filter
def rate(value) -> str:
    """A fraction as a percentage: 0.99807 -> 99.81 %; availability needs the decimals."""
    if value is None:
        return "—"
    return f"{number_format(float(value) * 100, 2)} %"


@register.filter
def money(value) -> str:
    if value is None:
        return "—"
    return f"{number_format(Decimal(value), 2, force_grouping=True)} €"


@register.filter
def change(value) -> str:
    """A relative change: -70.0 -> "−70 %", None -> "—"."""
    if value is None:
        return "—"
    sign = "−" if value < 0 else "+"
    return f"{sign}{number_format(abs(value), 1)} %"


@register.filter
def cell(value, column) -> str:
    kind = column.kind
    if kind == "seconds":
        return duration(value)
    if kind == "rate":
        return rate(value)
    if kind == "money":
        return money(value)
    if kind == "date":
        return date_format(value, "Y-m-d") if value else "—"
    if value is None:
        return "—"
    return str(value)
