"""Database expressions the reports are built from, for PostgreSQL and SQLite alike.

Durations are computed as differences of epoch seconds (floats), which both databases
aggregate natively. Percentiles use ``percentile_cont`` on PostgreSQL (analytics.metrics); SQLite
has no ordered-set aggregates, so there the (already computed, per-row) durations are fetched
and interpolated exactly as ``percentile_cont`` does (``percentile_of``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import FloatField, Func


class Epoch(Func):
    """Seconds since 1970 of a date-time expression, as a float (NULL stays NULL)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


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


def without_jit(function):
    """Run a report query with PostgreSQL's JIT off (``SET LOCAL`` in a transaction).

    The correlated signal subqueries make the planner's cost estimates large, so JIT compiles
    the whole expression tree with full optimisation: seconds of compilation on a busy machine
    for a query that runs in tens of milliseconds. Elsewhere a no-op.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if connection.vendor != "postgresql":
            return function(*args, **kwargs)
        with transaction.atomic(savepoint=False):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
            return function(*args, **kwargs)

    return wrapper
