"""Objective incident scoring: impact inputs -> points (0-100) -> a suggested severity.

Points (docs/analytics.md has worked examples; tests/analytics/test_scoring.py checks them):

| input | points |
| --- | --- |
| share of users affected | 35 x share (0-100 %) |
| revenue per hour at risk (the service's cost per hour) | < 100: 0 · < 1,000: 5 · < 5,000: 10 · < 10,000: 15 · more: 20 |
| data lost | 15 |
| failover tier in use | primary 0 · secondary 3 · tertiary 6 · none left 10 |
| duration so far | < 15 min: 0 · < 1 h: 3 · < 4 h: 6 · more: 10 |
| customer-facing (not internal) | 10 |

Suggested severity: < 15 points -> 1, < 30 -> 2, < 50 -> 3, < 70 -> 4, else 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

REVENUE_STEPS = ((Decimal(100), 0), (Decimal(1000), 5), (Decimal(5000), 10), (Decimal(10000), 15))
DURATION_STEPS = ((timedelta(minutes=15), 0), (timedelta(hours=1), 3), (timedelta(hours=4), 6))
FAILOVER_POINTS = {0: 0, 1: 3, 2: 6, 3: 10}
FAILOVER_LABELS = {0: "primary", 1: "secondary", 2: "tertiary", 3: "none left"}
SEVERITY_THRESHOLDS = ((15, 1), (30, 2), (50, 3), (70, 4))


@dataclass(frozen=True)
class ImpactInputs:
    users_affected_percent: int  # 0..100
    revenue_per_hour: Decimal
    data_loss: bool
    failover_tier: int  # 0 primary, 1 secondary, 2 tertiary, 3 none left
    duration: timedelta
    customer_facing: bool


@dataclass(frozen=True)
class Score:
    points: int
    severity: int
    parts: dict[str, int]


def _step(value, steps, top: int) -> int:
    for limit, points in steps:
        if value < limit:
            return points
    return top


def score(inputs: ImpactInputs) -> Score:
    if not 0 <= inputs.users_affected_percent <= 100:
        raise ValueError("users_affected_percent must lie in 0..100")
    if inputs.failover_tier not in FAILOVER_POINTS:
        raise ValueError("failover_tier must be 0, 1, 2 or 3")
    parts = {
        # Half up, in integers: 10 % -> 3.5 -> 4 points.
        "users": (35 * inputs.users_affected_percent + 50) // 100,
        "revenue": _step(Decimal(inputs.revenue_per_hour), REVENUE_STEPS, 20),
        "data_loss": 15 if inputs.data_loss else 0,
        "failover": FAILOVER_POINTS[inputs.failover_tier],
        "duration": _step(max(inputs.duration, timedelta(0)), DURATION_STEPS, 10),
        "customer_facing": 10 if inputs.customer_facing else 0,
    }
    points = sum(parts.values())
    return Score(points=points, severity=_step(points, SEVERITY_THRESHOLDS, 5), parts=parts)
