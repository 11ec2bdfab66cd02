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
from django.db.models import BigIntegerField, FloatField, Func


class Epoch(Func):
    """Seconds since 1970 of a date-time expression, as a float (NULL stays NULL)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler, conn, **extra):
        return self.as_sql(
            compiler, conn, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


class KeyId(Func):
    """The id in a monitor's dedup key ("probe:42" -> 42; NULL for any other key).

    Lets the signal lookups go straight to the monitor's rows by primary key and its (id, at)
    index, instead of searching the service's monitors for one whose key matches. Only the
    canonical form (no sign, no leading zero, at most 18 digits) matches, exactly the keys
    ``"probe:" || id`` produces.
    """

    output_field = BigIntegerField()

    def __init__(self, expression, *, prefix: str):
        self.prefix = prefix
        super().__init__(expression)

    def as_sql(self, compiler, conn, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        pattern = "^" + self.prefix + "[1-9][0-9]{0,17}$"
        start = len(self.prefix) + 1
        return (
            f"(CASE WHEN {sql} ~ %s THEN CAST(SUBSTR({sql}, {start}) AS BIGINT) END)",
            [*params, pattern, *params],
        )

    def as_sqlite(self, compiler, conn, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        start = len(self.prefix) + 1
        tail = f"SUBSTR({sql}, {start})"
        return (
            f"(CASE WHEN SUBSTR({sql}, 1, {len(self.prefix)}) = %s AND LENGTH({tail}) "
            f"BETWEEN 1 AND 18 AND {tail} NOT GLOB '*[^0-9]*' AND {tail} NOT GLOB '0*' "
            f"THEN CAST({tail} AS INTEGER) END)",
            [*params, self.prefix, *params, *params, *params, *params, *params],
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
