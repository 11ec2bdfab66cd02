"""Measured facts of a post-mortem, computed from what the incident recorded, never typed.

Definitions (as incident.io and FireHydrant use them):
- impact start: the recorded ``impact_started_at`` when someone knows users were hit before the
  alert, else the moment the incident triggered;
- time to detect: impact start -> triggered;
- time to acknowledge: triggered -> acknowledged;
- time to mitigate: impact start -> mitigated;
- time to recover: impact start -> resolved; compared with the service's RTO;
- data loss: the recorded data-loss window, compared with the service's RPO;
- cost of downtime: time to recover in hours x the service's cost per hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

MET = "met"
MISSED = "missed"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    state: str  # met | missed | unknown
    target: timedelta | None
    actual: timedelta | None
    reason: str = ""

    @property
    def margin(self) -> timedelta | None:
        """How much the target was missed by (positive) or beaten by (negative)."""
        if self.target is None or self.actual is None:
            return None
        return self.actual - self.target

    @property
    def missed_by(self) -> timedelta | None:
        return self.margin if self.state == MISSED else None


@dataclass(frozen=True)
class MeasuredFacts:
    impact_started_at: datetime
    triggered_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    time_to_detect: timedelta
    time_to_acknowledge: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_recover: timedelta | None
    data_loss: timedelta | None
    rto: Verdict
    rpo: Verdict
    downtime_cost: Decimal | None


def _since(start: datetime, end: datetime | None) -> timedelta | None:
    if end is None:
        return None
    return max(end - start, timedelta(0))


def _verdict(actual: timedelta | None, target_minutes: int | None, what: str) -> Verdict:
    target = timedelta(minutes=target_minutes) if target_minutes is not None else None
    if target is None:
        return Verdict(UNKNOWN, None, actual, f"the service has no {what} set")
    if actual is None:
        reason = "not resolved yet" if what == "RTO" else "no data-loss window recorded"
        return Verdict(UNKNOWN, target, None, reason)
    return Verdict(MET if actual <= target else MISSED, target, actual)


def measure(postmortem) -> MeasuredFacts:
    incident = postmortem.incident
    service = incident.service
    return measure_times(
        impact_started_at=postmortem.impact_started_at,
        triggered_at=incident.triggered_at,
        acknowledged_at=incident.acknowledged_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        data_loss_from=postmortem.data_loss_from,
        data_loss_until=postmortem.data_loss_until,
        rto_minutes=service.rto_minutes,
        rpo_minutes=service.rpo_minutes,
        cost_per_hour=service.downtime_cost_per_hour,
    )


def measure_times(
    *,
    impact_started_at: datetime | None,
    triggered_at: datetime,
    acknowledged_at: datetime | None,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
    data_loss_from: datetime | None,
    data_loss_until: datetime | None,
    rto_minutes: int | None,
    rpo_minutes: int | None,
    cost_per_hour,
) -> MeasuredFacts:
    """The facts from plain values, so reports can measure many rows without loading models."""
    start = min(impact_started_at or triggered_at, triggered_at)
    recover = _since(start, resolved_at)
    data_loss = None
    if data_loss_from is not None and data_loss_until is not None:
        data_loss = data_loss_until - data_loss_from
    cost = None
    if recover is not None:
        hours = Decimal(recover.total_seconds()) / Decimal(3600)
        cost = (hours * Decimal(cost_per_hour or 0)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
    return MeasuredFacts(
        impact_started_at=start,
        triggered_at=triggered_at,
        acknowledged_at=acknowledged_at,
        mitigated_at=mitigated_at,
        resolved_at=resolved_at,
        time_to_detect=triggered_at - start,
        time_to_acknowledge=_since(triggered_at, acknowledged_at),
        time_to_mitigate=_since(start, mitigated_at),
        time_to_recover=recover,
        data_loss=data_loss,
        rto=_verdict(recover, rto_minutes, "RTO"),
        rpo=_verdict(data_loss, rpo_minutes, "RPO"),
        downtime_cost=cost,
    )


def human_duration(value: timedelta | None) -> str:
    """4 h 05 min, 12 min 30 s, 45 s; an em dash when unknown."""
    if value is None:
        return "—"
    seconds = int(abs(value.total_seconds()))
    sign = "-" if value.total_seconds() < 0 else ""
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{sign}{days} d {hours} h {minutes:02d} min"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {seconds:02d} s" if seconds else f"{sign}{minutes} min"
    return f"{sign}{seconds} s"
