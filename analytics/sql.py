"""Database expressions the reports are built from, for PostgreSQL and SQLite alike.

Durations are computed as differences of epoch seconds (floats), which both databases
aggregate natively. Percentiles use ``percentile_cont`` on PostgreSQL; SQLite has no ordered-set
aggregates, so there the (already computed, per-row) durations are fetched sorted and
interpolated exactly as ``percentile_cont`` does (``percentile_of``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.db import connection
from django.db.models import Aggregate, FloatField, Func


class Epoch(Func):
    """Seconds since 1970 of a date-time expression, as a float (NULL stays NULL)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between neighbours)."""

    function = "percentile_cont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must lie in [0, 1]")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def has_percentile_aggregate() -> bool:
    return connection.vendor == "postgresql"


def percentile_of(sorted_values: Sequence[float], fraction: float) -> float | None:
    """percentile_cont over already sorted values: the same linear interpolation."""
    n = len(sorted_values)
    if n == 0:
        return None
    position = fraction * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    weight = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight
