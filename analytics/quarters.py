"""Quarter over quarter: is the response getting better, and what does downtime cost?

The ROI panel compares one quarter with the one before it: "downtime -x %, MTTR -y %,
cost -z EUR". With the avatar's operating budget for a quarter as input, it also shows the
rule of thumb of the resilience plan: spend 10-15 % of that budget on resilience, and how the
saved downtime cost compares with that spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import metrics
from analytics.scope import Scope, ScopeError
from analytics.sql import without_jit

RESILIENCE_SHARE = (Decimal("0.10"), Decimal("0.15"))
MAX_BUDGET = Decimal("1000000000000")  # 10^12: beyond any avatar's budget, within Decimal(14,2)


@dataclass
class Quarter:
    year: int
    number: int  # 1..4

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.number}"

    @property
    def slug(self) -> str:
        return f"{self.year}Q{self.number}"

    def start(self) -> datetime:
        return timezone.make_aware(
            datetime.combine(date(self.year, 3 * self.number - 2, 1), time(0))
        )

    def end(self) -> datetime:
        return self.next().start()

    def next(self) -> Quarter:
        return Quarter(self.year + self.number // 4, self.number % 4 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)

    @classmethod
    def of(cls, moment: datetime) -> Quarter:
        local = timezone.localtime(moment)
        return cls(local.year, (local.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, raw: str) -> Quarter:
        text = raw.strip().upper().replace(" ", "").replace("-", "")
        year, _sep, number = text.partition("Q")
        try:
            quarter = cls(int(year), int(number))
        except ValueError:
            raise ScopeError("quarter", _("give a quarter like 2026Q1")) from None
        if not (1970 <= quarter.year <= 2100 and 1 <= quarter.number <= 4):
            raise ScopeError("quarter", _("give a quarter like 2026Q1, between 1970 and 2100"))
        return quarter


@dataclass
class QuarterFigures:
    quarter: Quarter
    complete: bool
    incidents: int
    downtime_seconds: float
    mttr_median: float | None
    mttr_p90: float | None
    cost: Decimal
    availability: float | None  # mean over the services shown


def figures(scope: Scope, quarter: Quarter) -> QuarterFigures:
    quarter_scope = scope.shifted(start=quarter.start(), end=quarter.end())
    overall = metrics.recovery_overall(quarter_scope)
    down = metrics.downtime(quarter_scope)
    availabilities = [r.availability for r in down["services"] if r.availability is not None]
    return QuarterFigures(
        quarter=quarter,
        complete=quarter.end() <= scope.now,
        incidents=overall.incidents,
        downtime_seconds=down["downtime_seconds"],
        mttr_median=overall.median["ttr"],
        mttr_p90=overall.p90["ttr"],
        cost=down["cost"],
        availability=sum(availabilities) / len(availabilities) if availabilities else None,
    )


def change_percent(current, previous) -> float | None:
    """Relative change in percent (-70.0 = down 70 %); None when there is nothing to compare."""
    if current is None or previous is None or not previous:
        return None
    return (float(current) - float(previous)) / float(previous) * 100.0


def parse_budget(raw: str | None) -> Decimal | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = Decimal(raw.strip().replace(",", ""))
    except InvalidOperation:
        raise ScopeError("budget", _("give an amount like 25000")) from None
    if not value.is_finite() or value < 0 or value > MAX_BUDGET:
        raise ScopeError("budget", _("give an amount from 0 to 10^12"))
    return value.quantize(Decimal("0.01"))


@without_jit
def quarter_over_quarter(
    scope: Scope, *, quarter: Quarter | None = None, budget: Decimal | None = None, count: int = 4
) -> dict:
    """The chosen quarter (default: the last complete one) against the one before, plus the
    ``count`` quarters up to the current one for the chart."""
    current = Quarter.of(scope.now)
    chosen = quarter or current.previous()
    compared = chosen.previous()
    this, before = figures(scope, chosen), figures(scope, compared)
    history_quarters = [current]
    while len(history_quarters) < count:
        history_quarters.insert(0, history_quarters[0].previous())
    known = {this.quarter.slug: this, before.quarter.slug: before}
    history = [known.get(q.slug) or figures(scope, q) for q in history_quarters]
    savings = before.cost - this.cost
    roi = {
        "downtime_change": change_percent(this.downtime_seconds, before.downtime_seconds),
        "mttr_change": change_percent(this.mttr_median, before.mttr_median),
        "cost_change": change_percent(this.cost, before.cost),
        "cost_saved": savings,
        "budget": budget,
        "resilience_low": None,
        "resilience_high": None,
        "return_on_resilience": None,
    }
    if budget is not None:
        low, high = (budget * share for share in RESILIENCE_SHARE)
        roi["resilience_low"] = metrics.money(low)
        roi["resilience_high"] = metrics.money(high)
        middle = (low + high) / 2
        if middle:
            # Saved downtime cost per unit spent on resilience (at the middle of the range).
            roi["return_on_resilience"] = float(savings / middle)
    return {"quarter": this, "previous": before, "history": history, "roi": roi}
