"""The report's figures, each computed by the database in a fixed number of queries.

Definitions (docs/analytics.md has them with worked examples):

- An incident belongs to a range when it **triggered** inside it (``start <= triggered_at < end``);
  counts, MTTx, compliance and escalation depth use those incidents.
- **Impact start** is the post-mortem's recorded ``impact_started_at`` when earlier than the
  trigger, else the trigger (the same rule as the post-mortem's own facts).
- **MTTD**: first failing signal -> trigger. The signal is the earliest alert ``startsAt`` (at or
  before the trigger), the first failing or slow probe result of the streak that opened the
  incident, or the moment a heartbeat's missed ping was due (last success + period). Incidents
  without a signal (declared by hand) have no MTTD.
- **MTTA**: latest (re)trigger -> acknowledgement; never-acknowledged incidents have none and
  are counted apart.
- **MTTM**: impact start -> mitigation (an incident resolved without a mitigation step was
  mitigated at the latest when it was resolved).
- **MTTR**: impact start -> resolution. A reopened incident counts once, from its first impact
  to its final resolution. Open incidents have none and are counted apart.
- **Downtime** (availability and cost) uses every incident whose impact window overlaps the
  range, clipped to it; open incidents count up to now (or the range end). Availability weighs
  the clipped time by severity (``SEVERITY_WEIGHT``); cost is the clipped time x the service's
  cost per hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractHour,
    ExtractIsoWeekDay,
    Greatest,
    Least,
)
from django.utils import timezone

from accounts.models import User
from analytics.scope import Scope
from analytics.sql import Epoch, KeyId, has_percentile_aggregate, percentile_of, without_jit
from incidents.models import Alert, Incident, Service, Severity, Source
from monitoring.models import Heartbeat, HeartbeatPing, PingKind, Probe, ProbeResult
from oncall.models import EscalationState, Notification
from postmortems.models import (
    CATEGORY_OF,
    FACTOR_CHOICES,
    OPEN_ITEM_STATUSES,
    ActionItem,
    ContributingFactor,
    FactorCategory,
)

# How much of an hour of a severity-N incident counts as an hour of outage for availability.
SEVERITY_WEIGHT = {1: 0.1, 2: 0.25, 3: 0.5, 4: 0.75, 5: 1.0}
TIMINGS = ("ttd", "tta", "ttm", "ttr")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the incidents a report reads ----------------------------------------------------------


def _filtered(scope: Scope) -> QuerySet:
    queryset = Incident.objects.filter(team_id=scope.team.pk)
    if scope.service is not None:
        queryset = queryset.filter(service_id=scope.service.pk)
    if scope.severities:
        queryset = queryset.filter(severity__in=scope.severities)
    if not scope.include_drills:
        queryset = queryset.filter(is_drill=False)
    return queryset


def incidents_in(scope: Scope) -> QuerySet:
    """Incidents that triggered inside the range."""
    return _filtered(scope).filter(triggered_at__gte=scope.start, triggered_at__lt=scope.end)


def _impact_start():
    return Case(
        When(
            postmortem__impact_started_at__lt=F("triggered_at"),
            then=F("postmortem__impact_started_at"),
        ),
        default=F("triggered_at"),
    )


def _alert_signal() -> Subquery:
    first = (
        Alert.objects.filter(
            incident_id=OuterRef("pk"),
            starts_at__isnull=False,
            starts_at__lte=OuterRef("triggered_at"),
        )
        .order_by()
        .values("incident_id")
        .annotate(first=Min("starts_at"))
        .values("first")
    )
    return Subquery(first[:1])


def _monitor_of_service(model, prefix: str) -> Exists:
    """The incident's dedup key names a monitor of its own service (one primary-key lookup)."""
    return Exists(
        model.objects.filter(
            pk=KeyId(OuterRef("dedup_key"), prefix=prefix), service_id=OuterRef("service_id")
        )
    )


def _probe_signal() -> Subquery:
    """The first failing (or slow) result after the last good one before the trigger.

    The probe is the one the dedup key names (``probe:<id>``): each incident costs two index
    range scans on (probe, at), however many results the probe has.
    """
    failing = Q(ok=False) | Q(error="slow")
    last_good = (
        ProbeResult.objects.filter(
            probe_id=KeyId(OuterRef(OuterRef("dedup_key")), prefix="probe:"),
            at__lt=OuterRef(OuterRef("triggered_at")),
        )
        .exclude(failing)
        .order_by("-at")
        .values("at")[:1]
    )
    first_failing = (
        ProbeResult.objects.filter(failing, probe_id=KeyId(OuterRef("dedup_key"), prefix="probe:"))
        .filter(
            at__lte=OuterRef("triggered_at"),
            at__gt=Coalesce(Subquery(last_good), Value(EPOCH)),
        )
        .order_by("at")
        .values("at")[:1]
    )
    return Subquery(first_failing)


def _heartbeat_signal():
    """Epoch seconds at which the missed ping was due: last success before the trigger + period."""
    heartbeat_id = KeyId(OuterRef("dedup_key"), prefix="heartbeat:")
    last_success = (
        HeartbeatPing.objects.filter(
            heartbeat_id=heartbeat_id,
            kind=PingKind.SUCCESS,
            at__lt=OuterRef("triggered_at"),
        )
        .order_by("-at")
        .values("at")[:1]
    )
    period = Subquery(
        Heartbeat.objects.filter(pk=heartbeat_id).order_by().values("period_seconds")[:1]
    )
    return Epoch(Subquery(last_success)) + Cast(period, FloatField())


def live_signal() -> Case:
    """Epoch seconds of the incident's first failing signal, from the alerts, probe results
    or heartbeat pings (NULL without one)."""
    probe_or_heartbeat = Q(source=Source.PROBE)
    return Case(
        When(source=Source.INTEGRATION, then=Epoch(_alert_signal())),
        When(
            probe_or_heartbeat
            & Q(dedup_key__startswith="probe:")
            & _monitor_of_service(Probe, "probe:"),
            then=Epoch(_probe_signal()),
        ),
        When(
            probe_or_heartbeat
            & Q(dedup_key__startswith="heartbeat:")
            & _monitor_of_service(Heartbeat, "heartbeat:"),
            then=_heartbeat_signal(),
        ),
        default=Value(None, output_field=FloatField()),
        output_field=FloatField(),
    )


def live_signals(incident_ids: list[int]) -> list[tuple[int, float | None, datetime]]:
    """(id, signal epoch, resolved_at) of these incidents, computed from the signals."""
    return list(
        Incident.objects.filter(pk__in=incident_ids)
        .annotate(t_signal=live_signal())
        .order_by("pk")
        .values_list("pk", "t_signal", "resolved_at")
    )


def with_timings(queryset: QuerySet, *, signal: bool = True) -> QuerySet:
    """Annotate ``ttd``, ``tta``, ``ttm``, ``ttr`` in seconds (NULL where not measurable).
    Without ``signal`` there is no ``ttd`` (and no per-incident signal lookups)."""
    if not signal:
        queryset = queryset.annotate(
            t_trigger=Epoch("triggered_at"), t_impact=Epoch(_impact_start())
        )
        return _durations(queryset)
    queryset = queryset.annotate(
        t_trigger=Epoch("triggered_at"),
        t_impact=Epoch(_impact_start()),
        # The value stored when the incident resolved (analytics.signals), else computed live.
        t_signal=Case(
            When(
                analytics_signal__resolved_at=F("resolved_at"),
                then=F("analytics_signal__first_signal_epoch"),
            ),
            default=live_signal(),
            output_field=FloatField(),
        ),
    )
    queryset = queryset.annotate(
        ttd=Case(
            When(t_signal__isnull=True, then=Value(None, output_field=FloatField())),
            When(t_signal__gt=F("t_trigger"), then=Value(0.0)),
            default=F("t_trigger") - F("t_signal"),
            output_field=FloatField(),
        ),
    )
    return _durations(queryset)


def _durations(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        tta=Epoch("acknowledged_at") - Epoch(Coalesce("reopened_at", "triggered_at")),
        ttm=Epoch(Coalesce("mitigated_at", "resolved_at")) - F("t_impact"),
        ttr=Epoch("resolved_at") - F("t_impact"),
    )


# --- timings -------------------------------------------------------------------------------


@dataclass
class TimingRow:
    key: object  # None (all), a severity, a service id
    label: str
    incidents: int = 0
    open: int = 0
    never_acknowledged: int = 0
    reopened: int = 0
    median: dict = field(default_factory=lambda: dict.fromkeys(TIMINGS))
    p90: dict = field(default_factory=lambda: dict.fromkeys(TIMINGS))
    # RTO/RPO counts of the same incidents (PostgreSQL: from the same statement).
    compliance: dict | None = None


COMPLIANCE_COUNTS = ("rto_met", "rto_measured", "rpo_met", "rpo_measured")

_GROUPINGS = {None: "overall", "severity": "severity", "service_id": "service_id"}


def _timings_postgres(
    scope: Scope,
    *,
    overall_only: bool = False,
    names: tuple[str, ...] = TIMINGS,
    with_compliance: bool = True,
) -> dict[str, dict[object, TimingRow]]:
    """All three groupings (overall, per severity, per service) in one statement.

    The per-incident durations are computed once in a subquery (``OFFSET 0`` keeps PostgreSQL
    from inlining it, which would repeat the signal subqueries in every aggregate), then
    aggregated with ``percentile_cont`` over GROUPING SETS, the median and p90 of a timing
    from one sort (``percentile_cont(ARRAY[0.5, 0.9])``). ``overall_only`` and ``names``
    leave out what a caller does not show (the quarters need no MTTD, so no signal lookups).
    The RTO/RPO compliance counts of the same incidents come from the same pass.
    """
    columns = ["t_trigger", "t_signal", "tta", "ttm", "ttr"] if "ttd" in names else list(names)
    targets = ["ttr", "rto_seconds", "rpo_seconds", "data_loss"] if with_compliance else []
    measured = with_timings(incidents_in(scope), signal="ttd" in names)
    inner = (
        (_with_targets(measured) if with_compliance else measured)
        .order_by()
        .values(
            "severity", "service_id", "resolved_at", "acknowledged_at", "reopen_count",
            *dict.fromkeys([*columns, *targets]),
        )
    )  # fmt: skip
    inner_sql, params = inner.query.sql_with_params()
    percentiles = [
        f"percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {name})" for name in names
    ]
    ttd = (
        ", CASE WHEN t_signal IS NULL THEN NULL ELSE GREATEST(t_trigger - t_signal, 0) END AS ttd"
        if "ttd" in names
        else ""
    )
    if overall_only:
        keys = "1 AS g_severity, 1 AS g_service, NULL AS severity, NULL AS service_id"
        group_by = ""
    else:
        keys = (
            "GROUPING(severity) AS g_severity, GROUPING(service_id) AS g_service, "
            "severity, service_id"
        )
        group_by = "GROUP BY GROUPING SETS ((), (severity), (service_id))"
    compliance = (
        """COUNT(*) FILTER (WHERE ttr IS NOT NULL AND rto_seconds IS NOT NULL
                                 AND ttr <= rto_seconds) AS rto_met,
           COUNT(*) FILTER (WHERE ttr IS NOT NULL AND rto_seconds IS NOT NULL) AS rto_measured,
           COUNT(*) FILTER (WHERE data_loss IS NOT NULL AND rpo_seconds IS NOT NULL
                                 AND data_loss <= rpo_seconds) AS rpo_met,
           COUNT(*) FILTER (WHERE data_loss IS NOT NULL AND rpo_seconds IS NOT NULL)
               AS rpo_measured,"""
        if with_compliance
        else ""
    )
    # Only fixed names and Django's own parametrised SQL are put together here.
    sql = f"""
        SELECT {keys}, COUNT(*) AS incidents,
               COUNT(*) FILTER (WHERE resolved_at IS NULL) AS open,
               COUNT(*) FILTER (WHERE acknowledged_at IS NULL) AS never_acknowledged,
               COUNT(*) FILTER (WHERE reopen_count > 0) AS reopened, {compliance}
               {", ".join(percentiles)}
        FROM (
            SELECT *{ttd}
            FROM ({inner_sql} OFFSET 0) AS measured
        ) AS durations
        {group_by}
    """  # noqa: S608
    result: dict[str, dict[object, TimingRow]] = {name: {} for name in _GROUPINGS.values()}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for record in cursor.fetchall():
            g_severity, g_service, severity, service_id, *counts_and_percentiles = record
            if g_severity and g_service:
                grouping, key = "overall", None
            elif not g_severity:
                grouping, key = "severity", severity
            else:
                grouping, key = "service_id", service_id
            row = TimingRow(key=key, label="")
            row.incidents, row.open, row.never_acknowledged, row.reopened = counts_and_percentiles[
                :4
            ]
            rest = counts_and_percentiles[4:]
            if with_compliance:
                row.compliance = dict(zip(COMPLIANCE_COUNTS, rest[:4], strict=True))
                rest = rest[4:]
            for name, pair in zip(names, rest, strict=True):
                row.median[name], row.p90[name] = pair if pair is not None else (None, None)
            result[grouping][key] = row
    return result


def _timing_rows(scope: Scope, group: str | None) -> dict[object, TimingRow]:
    queryset = with_timings(incidents_in(scope))
    rows: dict[object, TimingRow] = {}
    # SQLite: no ordered-set aggregate. Fetch the computed durations (one query) and
    # interpolate as percentile_cont does.
    values: dict[object, dict[str, list[float]]] = {}
    fields = [group] if group else []
    for record in queryset.order_by().values_list(
        *fields, "resolved_at", "acknowledged_at", "reopen_count", *TIMINGS
    ):
        key = record[0] if group else None
        resolved_at, acknowledged_at, reopen_count, *durations = record[len(fields) :]
        row = rows.setdefault(key, TimingRow(key=key, label=""))
        row.incidents += 1
        row.open += resolved_at is None
        row.never_acknowledged += acknowledged_at is None
        row.reopened += reopen_count > 0
        bucket = values.setdefault(key, {name: [] for name in TIMINGS})
        for name, duration in zip(TIMINGS, durations, strict=True):
            if duration is not None:
                # julianday() carries ~0.1 ms of float noise: durations are whole milliseconds.
                bucket[name].append(round(duration, 3))
    for key, bucket in values.items():
        for name, durations in bucket.items():
            durations.sort()
            rows[key].median[name] = percentile_of(durations, 0.5)
            rows[key].p90[name] = percentile_of(durations, 0.9)
    if group is None and not rows:
        rows[None] = TimingRow(key=None, label="")
    return rows


def _all_timing_rows(scope: Scope) -> dict[str, dict[object, TimingRow]]:
    if has_percentile_aggregate():
        return _timings_postgres(scope)
    return {name: _timing_rows(scope, group) for group, name in _GROUPINGS.items()}


def timings_overall(scope: Scope) -> TimingRow:
    return _labelled_overall(_all_timing_rows(scope))


def recovery_overall(scope: Scope) -> TimingRow:
    """Counts and MTTR (median, p90) of the range, as ``timings_overall`` has them, without
    the other timings (the quarter-over-quarter view)."""
    if has_percentile_aggregate():
        return _labelled_overall(
            _timings_postgres(scope, overall_only=True, names=("ttr",), with_compliance=False)
        )
    return timings_overall(scope)


def _labelled_overall(rows: dict[str, dict[object, TimingRow]]) -> TimingRow:
    overall = rows["overall"].get(None) or TimingRow(key=None, label="")
    overall.label = "all"
    return overall


def timings(scope: Scope, *, rows: dict | None = None) -> dict:
    """MTTD/MTTA/MTTM/MTTR (median and p90, seconds) overall, per severity and per service."""
    rows = rows if rows is not None else _all_timing_rows(scope)
    overall = _labelled_overall(rows)
    by_severity = rows["severity"]
    for severity, row in by_severity.items():
        row.label = f"{severity} – {Severity(severity).label}"
    by_service = rows["service_id"]
    names = dict(Service.objects.filter(pk__in=list(by_service)).values_list("pk", "name"))
    for service_id, row in by_service.items():
        row.label = names.get(service_id, str(service_id))
    return {
        "overall": overall,
        "by_severity": [by_severity[k] for k in sorted(by_severity)],
        "by_service": sorted(by_service.values(), key=lambda r: (r.label, r.key)),
    }


# --- downtime, availability, cost -------------------------------------------------------------


def _weight():
    return Case(
        *[When(severity=s, then=Value(w)) for s, w in SEVERITY_WEIGHT.items()],
        default=Value(1.0),
        output_field=FloatField(),
    )


def _overlapping(scope: Scope) -> QuerySet:
    """Incidents whose impact window overlaps the range, with the overlap in seconds."""
    start, until = scope.start.timestamp(), scope.until.timestamp()
    queryset = (
        _filtered(scope)
        .filter(Q(triggered_at__lt=scope.end) | Q(postmortem__impact_started_at__lt=scope.end))
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=scope.start))
    )
    return queryset.annotate(
        o_start=Greatest(Epoch(_impact_start()), Value(start)),
        o_end=Least(Coalesce(Epoch("resolved_at"), Value(until)), Value(until)),
    ).annotate(
        overlap=Case(
            When(o_end__gt=F("o_start"), then=F("o_end") - F("o_start")),
            default=Value(0.0),
            output_field=FloatField(),
        )
    )


@dataclass
class ServiceDowntime:
    service_id: int
    name: str
    slug: str
    incidents: int
    downtime_seconds: float
    weighted_seconds: float
    availability: float | None  # 0..1
    cost_per_hour: Decimal
    cost: Decimal


def money(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def downtime(scope: Scope) -> dict:
    """Per service (every service of the team, or the chosen one): clipped downtime, severity-
    weighted availability over the range, and cost. Two queries."""
    per_service = {
        row["service_id"]: row
        for row in _overlapping(scope)
        .order_by()
        .values("service_id")
        .annotate(
            n=Count("pk"),
            seconds=Sum("overlap"),
            weighted=Sum(F("overlap") * _weight(), output_field=FloatField()),
        )
    }
    services = Service.objects.filter(team_id=scope.team.pk)
    if scope.service is not None:
        services = services.filter(pk=scope.service.pk)
    rows = []
    total_seconds = scope.seconds
    for service in services.order_by("name", "pk"):
        found = per_service.get(service.pk, {})
        seconds = float(found.get("seconds") or 0.0)
        weighted = float(found.get("weighted") or 0.0)
        availability = None
        if total_seconds > 0:
            availability = max(0.0, 1.0 - weighted / total_seconds)
        rows.append(
            ServiceDowntime(
                service_id=service.pk,
                name=service.name,
                slug=service.slug,
                incidents=found.get("n", 0),
                downtime_seconds=seconds,
                weighted_seconds=weighted,
                availability=availability,
                cost_per_hour=service.downtime_cost_per_hour,
                cost=money(Decimal(seconds) / Decimal(3600) * service.downtime_cost_per_hour),
            )
        )
    return {
        "services": rows,
        "downtime_seconds": sum(r.downtime_seconds for r in rows),
        "cost": money(sum((r.cost for r in rows), Decimal(0))),
    }


# --- RTO / RPO compliance ------------------------------------------------------------------


def _with_targets(queryset: QuerySet) -> QuerySet:
    """The service's RTO and RPO in seconds and the post-mortem's data-loss window."""
    return queryset.annotate(
        rto_seconds=F("service__rto_minutes") * 60.0,
        rpo_seconds=F("service__rpo_minutes") * 60.0,
        data_loss=Epoch("postmortem__data_loss_until") - Epoch("postmortem__data_loss_from"),
    )


def compliance(scope: Scope, *, timing_rows: dict | None = None) -> dict:
    """Share of resolved incidents recovered within the service's RTO, and of recorded
    data-loss windows within its RPO. Incidents without a target or measurement are 'unknown'.
    On PostgreSQL the counts come with the timings (``timing_rows``, one pass)."""
    overall = None
    if timing_rows is not None:
        overall = timing_rows["overall"].get(None)
    if overall is not None and overall.compliance is not None:
        result = {**overall.compliance, "total": overall.incidents}
    elif timing_rows is not None and overall is None and has_percentile_aggregate():
        result = dict.fromkeys((*COMPLIANCE_COUNTS, "total"), 0)
    else:
        queryset = _with_targets(with_timings(incidents_in(scope), signal=False))
        rto_known = Q(ttr__isnull=False, rto_seconds__isnull=False)
        rpo_known = Q(data_loss__isnull=False, rpo_seconds__isnull=False)
        result = queryset.aggregate(
            rto_met=Count("pk", filter=rto_known & Q(ttr__lte=F("rto_seconds"))),
            rto_measured=Count("pk", filter=rto_known),
            rpo_met=Count("pk", filter=rpo_known & Q(data_loss__lte=F("rpo_seconds"))),
            rpo_measured=Count("pk", filter=rpo_known),
            total=Count("pk"),
        )

    def rate(met, measured):
        return met / measured if measured else None

    return {
        "rto": {
            "met": result["rto_met"],
            "missed": result["rto_measured"] - result["rto_met"],
            "unknown": result["total"] - result["rto_measured"],
            "rate": rate(result["rto_met"], result["rto_measured"]),
        },
        "rpo": {
            "met": result["rpo_met"],
            "missed": result["rpo_measured"] - result["rpo_met"],
            "unknown": result["total"] - result["rpo_measured"],
            "rate": rate(result["rpo_met"], result["rpo_measured"]),
        },
    }


# --- counts --------------------------------------------------------------------------------


def counts(scope: Scope) -> dict:
    """Incidents by severity and by source; post-mortem factors by category and by factor."""
    incidents = incidents_in(scope).order_by()
    by_severity: dict[int, int] = {}
    by_source: dict[str, int] = {}
    for severity, source, n in incidents.values_list("severity", "source").annotate(n=Count("pk")):
        by_severity[severity] = by_severity.get(severity, 0) + n
        by_source[source] = by_source.get(source, 0) + n
    factors = (
        ContributingFactor.objects.filter(postmortem__incident__in=incidents.values("pk"))
        .order_by()
        .values_list("factor")
        .annotate(n=Count("postmortem__incident_id", distinct=True))
    )
    by_factor = dict(factors)
    by_category: dict[str, int] = dict.fromkeys(FactorCategory.values, 0)
    category_incidents = (
        ContributingFactor.objects.filter(postmortem__incident__in=incidents.values("pk"))
        .order_by()
        .values_list("category")
        .annotate(n=Count("postmortem__incident_id", distinct=True))
    )
    by_category.update(dict(category_incidents))
    return {
        "by_severity": [
            {"severity": s, "label": Severity(s).label, "incidents": by_severity.get(s, 0)}
            for s in sorted(Severity.values, reverse=True)
        ],
        "by_source": [
            {"source": s, "label": label, "incidents": by_source.get(s, 0)}
            for s, label in Source.choices
        ],
        "by_category": [
            {"category": c, "label": label, "incidents": by_category.get(c, 0)}
            for c, label in FactorCategory.choices
        ],
        "by_factor": [
            {
                "factor": key,
                "label": label,
                "category": CATEGORY_OF[key],
                "incidents": by_factor.get(key, 0),
            }
            for key, label in FACTOR_CHOICES
        ],
    }


# --- escalation depth ----------------------------------------------------------------------


def escalation_depth(scope: Scope) -> dict:
    """How far escalation went before someone acknowledged (or it ran out): per level reached."""
    reached = dict(
        EscalationState.objects.filter(incident__in=incidents_in(scope).values("pk"))
        .order_by()
        .values_list("current_level")
        .annotate(n=Count("pk"))
    )
    total = sum(reached.values())
    levels = [{"level": level, "incidents": reached.get(level, 0)} for level in (0, 1, 2, 3, 4)]
    deep = sum(n for level, n in reached.items() if level >= 3)
    top = reached.get(4, 0)
    return {
        "levels": levels,
        "escalated": total,
        "reached_l3": deep,
        "reached_l4": top,
        "l3_rate": deep / total if total else None,
        "l4_rate": top / total if total else None,
    }


# --- action items --------------------------------------------------------------------------


def action_items(scope: Scope, *, today=None, limit: int = 20) -> dict:
    """Open and overdue follow-up items of the team's post-mortems (their state today)."""
    today = today or timezone.localdate(scope.now)
    items = ActionItem.objects.filter(postmortem__team_id=scope.team.pk)
    if scope.service is not None:
        items = items.filter(postmortem__incident__service_id=scope.service.pk)
    if not scope.include_drills:
        items = items.filter(postmortem__incident__is_drill=False)
    is_open = Q(status__in=OPEN_ITEM_STATUSES)
    overdue = is_open & Q(due_date__lt=today)
    totals = items.aggregate(open=Count("pk", filter=is_open), overdue=Count("pk", filter=overdue))
    oldest = list(
        items.filter(overdue)
        .select_related("owner", "postmortem")
        .order_by("due_date", "priority", "pk")[:limit]
    )
    return {"open": totals["open"], "overdue": totals["overdue"], "overdue_items": oldest}


# --- on-call load --------------------------------------------------------------------------


def _zone(name: str):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def oncall_load(scope: Scope) -> list[dict]:
    """Pages per person in the range: incidents they were paged for, messages sent, and pages
    out of hours (before/after business hours or on a weekend, in the person's own time zone).

    Two statements: the time zones people use, then one pass over the pages.
    """
    # The incident filters as a join (not IN over every incident of the team).
    incident_filters = {"incident__team_id": scope.team.pk}
    if scope.service is not None:
        incident_filters["incident__service_id"] = scope.service.pk
    if scope.severities:
        incident_filters["incident__severity__in"] = scope.severities
    if not scope.include_drills:
        incident_filters["incident__is_drill"] = False
    pages = Notification.objects.filter(
        purpose="page",
        recipient__isnull=False,
        created_at__gte=scope.start,
        created_at__lt=scope.end,
        **incident_filters,
    ).order_by()
    first_hour, last_hour = settings.ANALYTICS_BUSINESS_HOURS
    # Out of hours in each person's own zone: one condition per time zone people have (a
    # small table), so totals and out-of-hours pages come from one pass over the pages.
    late = Q(pk__isnull=True)  # never true: the zones below add the real conditions
    local: dict[str, object] = {}
    zones = User.objects.order_by().values_list("time_zone", flat=True).distinct()
    for n, zone_name in enumerate(sorted(set(zones))):
        zone = _zone(zone_name)
        local[f"hour_{n}"] = ExtractHour("created_at", tzinfo=zone)
        local[f"weekday_{n}"] = ExtractIsoWeekDay("created_at", tzinfo=zone)
        late |= Q(recipient__time_zone=zone_name) & (
            Q(**{f"hour_{n}__lt": first_hour})
            | Q(**{f"hour_{n}__gte": last_hour})
            | Q(**{f"weekday_{n}__gte": 6})
        )
    totals = list(
        pages.annotate(**local)
        .values("recipient_id", "recipient__username")
        .annotate(
            incidents=Count("incident_id", distinct=True),
            messages=Count("pk"),
            late=Count("incident_id", distinct=True, filter=late),
        )
    )
    out_of_hours = {row["recipient_id"]: row["late"] for row in totals}
    rows = [
        {
            "user_id": row["recipient_id"],
            "name": row["recipient__username"],
            "incidents": row["incidents"],
            "messages": row["messages"],
            "out_of_hours": out_of_hours.get(row["recipient_id"], 0),
        }
        for row in totals
    ]
    rows.sort(key=lambda r: (-r["incidents"], r["name"]))
    return rows


# --- the whole report -------------------------------------------------------------------------


@without_jit
def report(scope: Scope) -> dict:
    rows = _all_timing_rows(scope)
    return {
        "scope": scope,
        "timings": timings(scope, rows=rows),
        "downtime": downtime(scope),
        "compliance": compliance(scope, timing_rows=rows),
        "counts": counts(scope),
        "escalation": escalation_depth(scope),
        "action_items": action_items(scope),
        "oncall": oncall_load(scope),
    }


def first_signal_at(incident: Incident) -> datetime | None:
    """The first failing signal of one incident (for the drill report), from the same SQL."""
    seconds = (
        with_timings(Incident.objects.filter(pk=incident.pk))
        .values_list("t_signal", flat=True)
        .first()
    )
    if seconds is None:
        return None
    # SQLite's julianday() carries ~0.1 ms of float noise: round to the millisecond.
    return datetime.fromtimestamp(round(seconds, 3), tz=timezone.get_current_timezone())
