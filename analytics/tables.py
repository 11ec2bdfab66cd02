"""Every table of the report, defined once: the page shows it, the CSV export writes it.

A table is columns (with a kind that says how to show the raw value) and rows of raw values:
seconds as numbers, rates as fractions, money as decimals. The page formats them for people;
the CSV keeps them raw so a spreadsheet can compute with them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from analytics import metrics
from analytics.scope import Scope

MTT_NAMES = {"ttd": "MTTD", "tta": "MTTA", "ttm": "MTTM", "ttr": "MTTR"}


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | seconds | rate | money | percent | date | hours


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)

    def cells(self):
        """Rows as (column, value) pairs, for templates."""
        for row in self.rows:
            yield list(zip(self.columns, row, strict=True))


def timings_table(timings: dict) -> Table:
    columns = [
        Column("group", _("group")),
        Column("incidents", _("incidents"), "int"),
        Column("open", _("still open"), "int"),
        Column("never_acknowledged", _("never acknowledged"), "int"),
        Column("reopened", _("reopened"), "int"),
    ]
    for key, name in MTT_NAMES.items():
        columns.append(Column(f"{key}_median", f"{name} median", "seconds"))
        columns.append(Column(f"{key}_p90", f"{name} p90", "seconds"))
    table = Table("timings", _("Detection and response times"), columns)
    groups = [("", timings["overall"])]
    groups += [("severity ", row) for row in timings["by_severity"]]
    groups += [("service ", row) for row in timings["by_service"]]
    for prefix, row in groups:
        values = [prefix + str(row.label), row.incidents, row.open, row.never_acknowledged]
        values.append(row.reopened)
        for key in MTT_NAMES:
            values += [row.median[key], row.p90[key]]
        table.rows.append(values)
    return table


def availability_table(downtime: dict) -> Table:
    table = Table(
        "availability",
        _("Availability and cost of downtime per service"),
        [
            Column("service", _("service")),
            Column("incidents", _("incidents"), "int"),
            Column("downtime_seconds", _("downtime"), "seconds"),
            Column("weighted_seconds", _("severity-weighted downtime"), "seconds"),
            Column("availability", _("availability"), "rate"),
            Column("cost_per_hour", _("cost per hour"), "money"),
            Column("cost", _("cost of downtime"), "money"),
        ],
    )
    for row in downtime["services"]:
        table.rows.append(
            [row.name, row.incidents, row.downtime_seconds, row.weighted_seconds,
             row.availability, row.cost_per_hour, row.cost]
        )  # fmt: skip
    return table


def compliance_table(compliance: dict) -> Table:
    table = Table(
        "compliance",
        _("RTO and RPO compliance"),
        [
            Column("target", _("target")),
            Column("met", _("met"), "int"),
            Column("missed", _("missed"), "int"),
            Column("unknown", _("not measurable"), "int"),
            Column("rate", _("compliance"), "rate"),
        ],
    )
    for target in ("rto", "rpo"):
        values = compliance[target]
        table.rows.append(
            [target.upper(), values["met"], values["missed"], values["unknown"], values["rate"]]
        )
    return table


def _count_table(name: str, title, header, rows: list[dict], key: str) -> Table:
    table = Table(name, title, [Column(key, header), Column("incidents", _("incidents"), "int")])
    table.rows = [[row["label"], row["incidents"]] for row in rows]
    return table


def severity_table(counts: dict) -> Table:
    return _count_table("severity", _("Incidents by severity"), _("severity"),
                        [{**r, "label": f"{r['severity']} – {r['label']}"}
                         for r in counts["by_severity"]], "severity")  # fmt: skip


def source_table(counts: dict) -> Table:
    return _count_table(
        "source", _("Incidents by source"), _("source"), counts["by_source"], "source"
    )


def category_table(counts: dict) -> Table:
    return _count_table(
        "categories",
        _("Contributing factors by category"),
        _("category"),
        counts["by_category"],
        "category",
    )


def factor_table(counts: dict) -> Table:
    table = Table(
        "factors",
        _("Contributing factors"),
        [
            Column("factor", _("factor")),
            Column("category", _("category")),
            Column("incidents", _("incidents"), "int"),
        ],
    )
    table.rows = [[r["label"], r["category"], r["incidents"]] for r in counts["by_factor"]]
    return table


def escalation_table(escalation: dict) -> Table:
    table = Table(
        "escalation",
        _("Escalation depth reached"),
        [Column("level", _("level reached")), Column("incidents", _("incidents"), "int")],
    )
    names = {0: _("none engaged"), 1: "L1", 2: "L2", 3: "L3", 4: "L4"}
    table.rows = [[str(names[r["level"]]), r["incidents"]] for r in escalation["levels"]]
    return table


def action_items_table(items: dict) -> Table:
    table = Table(
        "action_items",
        _("Overdue action items"),
        [
            Column("title", _("item")),
            Column("postmortem", _("post-mortem")),
            Column("owner", _("owner")),
            Column("due_date", _("due"), "date"),
            Column("status", _("status")),
        ],
    )
    table.rows = [
        [item.title, item.postmortem.title, str(item.owner) if item.owner else "",
         item.due_date, item.get_status_display()]
        for item in items["overdue_items"]
    ]  # fmt: skip
    return table


def oncall_table(rows: list[dict]) -> Table:
    table = Table(
        "oncall",
        _("On-call load"),
        [
            Column("person", _("person")),
            Column("incidents", _("incidents paged for"), "int"),
            Column("messages", _("messages"), "int"),
            Column("out_of_hours", _("out of hours"), "int"),
        ],
    )
    table.rows = [[r["name"], r["incidents"], r["messages"], r["out_of_hours"]] for r in rows]
    return table


# name -> (what to compute, how to tabulate it): the CSV export computes only its part.
TABLES: dict[str, tuple[Callable[[Scope], object], Callable[[object], Table]]] = {
    "timings": (metrics.timings, timings_table),
    "availability": (metrics.downtime, availability_table),
    "compliance": (metrics.compliance, compliance_table),
    "severity": (metrics.counts, severity_table),
    "source": (metrics.counts, source_table),
    "categories": (metrics.counts, category_table),
    "factors": (metrics.counts, factor_table),
    "escalation": (metrics.escalation_depth, escalation_table),
    "action_items": (metrics.action_items, action_items_table),
    "oncall": (metrics.oncall_load, oncall_table),
}


def report_tables(report: dict) -> dict[str, Table]:
    return {
        "timings": timings_table(report["timings"]),
        "availability": availability_table(report["downtime"]),
        "compliance": compliance_table(report["compliance"]),
        "severity": severity_table(report["counts"]),
        "source": source_table(report["counts"]),
        "categories": category_table(report["counts"]),
        "factors": factor_table(report["counts"]),
        "escalation": escalation_table(report["escalation"]),
        "action_items": action_items_table(report["action_items"]),
        "oncall": oncall_table(report["oncall"]),
    }


def quarters_table(result: dict) -> Table:
    table = Table(
        "quarters",
        _("Quarter over quarter"),
        [
            Column("quarter", _("quarter")),
            Column("complete", _("complete")),
            Column("incidents", _("incidents"), "int"),
            Column("downtime_seconds", _("downtime"), "seconds"),
            Column("mttr_median", _("MTTR median"), "seconds"),
            Column("mttr_p90", _("MTTR p90"), "seconds"),
            Column("availability", _("mean availability"), "rate"),
            Column("cost", _("cost of downtime"), "money"),
        ],
    )
    for q in result["history"]:
        table.rows.append(
            [q.quarter.label, "yes" if q.complete else "no", q.incidents, q.downtime_seconds,
             q.mttr_median, q.mttr_p90, q.availability, q.cost]
        )  # fmt: skip
    return table


def _safe_cell(value) -> str:
    """Raw value for a spreadsheet; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9f}".rstrip("0").rstrip(".") if value == value else ""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column.key for column in table.columns])
    for row in table.rows:
        writer.writerow([_safe_cell(value) for value in row])
    return out.getvalue()
