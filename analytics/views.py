"""The report pages: one URL serves the page and, for htmx, the report fragment."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.permissions import Action, can
from analytics import charts, metrics, quarters, services, tables
from analytics.panel import score_panel_context
from analytics.scope import Scope, parse_scope
from analytics.sql import without_jit
from analytics.templatetags.analytics_format import duration as _duration
from analytics.templatetags.analytics_format import money as _money
from config.errors import Forbidden, InvalidInput, NotFound
from config.web import see_other, wants_fragment
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.models import Service, Severity

TONE_OF_SEVERITY = {s: f"sev{s}" for s in Severity.values}


def _scope(request: HttpRequest) -> Scope:
    return parse_scope(request.user, request.GET, default_team_id=request.session.get("team_id"))


def _form_context(request: HttpRequest, scope: Scope) -> dict:
    return {
        "nav": "analytics",
        "scope": scope,
        "query": urlencode(scope.as_query()),
        "services": list(Service.objects.filter(team_id=scope.team.pk).order_by("name")),
        "severity_choices": Severity.choices,
        "start_value": scope.start.date().isoformat(),
        # The form's end date is inclusive; the scope's end is the exclusive midnight after.
        "end_value": (scope.end - timedelta(microseconds=1)).date().isoformat(),
    }


def _charts(report: dict) -> dict:
    overall = report["timings"]["overall"]
    return {
        "mtt": charts.bar_chart(
            _("Median and p90 response times"),
            [
                charts.Bar(f"{name} {which}", seconds or 0, _duration(seconds), tone)
                for key, name in tables.MTT_NAMES.items()
                for which, seconds, tone in (
                    (_("median"), overall.median[key], ""),
                    ("p90", overall.p90[key], "muted"),
                )
            ],
        ),
        "severity": charts.bar_chart(
            _("Incidents by severity"),
            [
                charts.Bar(
                    f"{row['severity']} – {row['label']}",
                    row["incidents"],
                    str(row["incidents"]),
                    TONE_OF_SEVERITY[row["severity"]],
                )
                for row in report["counts"]["by_severity"]
            ],
        ),
        "cost": charts.bar_chart(
            _("Cost of downtime per service"),
            [
                charts.Bar(row.name, float(row.cost), _money(row.cost), "bad")
                for row in report["downtime"]["services"]
            ],
        ),
    }


@login_required
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    report = metrics.report(scope)
    context = {
        **_form_context(request, scope),
        "report": report,
        "tables": tables.report_tables(report),
        "charts": _charts(report),
    }
    if wants_fragment(request):
        return render(request, "analytics/report.html#report", context)
    return render(request, "analytics/report.html", context)


@login_required
@require_GET
def roi_page(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    quarter = None
    if (request.GET.get("quarter") or "").strip():
        quarter = quarters.Quarter.parse(request.GET["quarter"])
    budget = quarters.parse_budget(request.GET.get("budget"))
    result = quarters.quarter_over_quarter(scope, quarter=quarter, budget=budget)
    history = result["history"]
    context = {
        **_form_context(request, scope),
        "result": result,
        "roi": result["roi"],
        "table": tables.quarters_table(result),
        "budget_value": request.GET.get("budget", ""),
        "quarter_value": result["quarter"].quarter.slug,
        "charts": {
            "downtime": charts.bar_chart(
                _("Downtime per quarter"),
                [
                    charts.Bar(
                        q.quarter.label, q.downtime_seconds, _duration(q.downtime_seconds), "bad"
                    )
                    for q in history
                ],
            ),  # fmt: skip
            "mttr": charts.bar_chart(
                _("Median time to recover per quarter"),
                [
                    charts.Bar(q.quarter.label, q.mttr_median or 0, _duration(q.mttr_median))
                    for q in history
                ],
            ),
            "cost": charts.bar_chart(
                _("Cost of downtime per quarter"),
                [
                    charts.Bar(q.quarter.label, float(q.cost), _money(q.cost), "bad")
                    for q in history
                ],
            ),  # fmt: skip
        },
    }
    if wants_fragment(request):
        return render(request, "analytics/roi.html#roi", context)
    return render(request, "analytics/roi.html", context)


@login_required
@require_GET
def export_csv(request: HttpRequest, name: str) -> HttpResponse:
    scope = _scope(request)
    if name == "quarters":
        quarter = None
        if (request.GET.get("quarter") or "").strip():
            quarter = quarters.Quarter.parse(request.GET["quarter"])
        table = tables.quarters_table(quarters.quarter_over_quarter(scope, quarter=quarter))
    elif name in tables.TABLES:
        compute, tabulate = tables.TABLES[name]
        table = tabulate(without_jit(compute)(scope))
    else:
        raise NotFound(_("No such table: %(name)s.") % {"name": name[:40]})
    response = HttpResponse(tables.to_csv(table), content_type="text/csv; charset=utf-8")
    filename = f"vigil-{scope.team.slug}-{name}-{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _int_field(request: HttpRequest, name: str, low: int, high: int) -> int:
    raw = (request.POST.get(name) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(
            _("%(name)s: give a whole number from %(low)s to %(high)s")
            % {"name": name, "low": low, "high": high}
        )
    return value


@login_required
@require_POST
def score_incident(request: HttpRequest, pk: int) -> HttpResponse:
    """Score the impact with the posted inputs and accept or keep the suggested severity."""
    incident = get_incident_for_user(request.user, pk)
    if not can(request.user, incident.team_id, Action.RESPOND):
        raise Forbidden(_("Your role in this team does not allow this (responder or above)."))
    decision = request.POST.get("decision")
    if decision not in ("accept", "keep"):
        raise InvalidInput(_("decision: give accept or keep"))
    incident = services.decide_on_score(
        incident=incident,
        actor=Actor.of_request(request),
        accept=decision == "accept",
        users_affected_percent=_int_field(request, "users_affected_percent", 0, 100),
        failover_tier=_int_field(request, "failover_tier", 0, 3),
        data_loss=bool(request.POST.get("data_loss")),
        customer_facing=bool(request.POST.get("customer_facing")),
        note=request.POST.get("note", ""),
    )
    if request.htmx:
        incident = get_incident_for_user(request.user, pk)
        context = {"incident": incident, **score_panel_context(incident, request.user)}
        response = render(request, "analytics/_score_panel.html", context)
        return trigger_client_event(response, "incidentChanged", {"id": incident.pk})
    return see_other(reverse("incident-room", args=[incident.pk]))
