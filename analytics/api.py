"""GET /api/v1/analytics/report/ and /api/v1/analytics/quarters/: the page's figures as JSON.

Durations are seconds (floats), rates fractions from 0 to 1, money decimal strings. The team
comes from ``?team=`` (default: the caller's first team); another team is a 404.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Team
from analytics import metrics, quarters
from analytics.scope import ScopeError, parse_scope
from config.api import TeamScopedMixin

# --- response shapes (used to render, so the documented shape is the real one) -------------


class _Durations(serializers.Serializer):
    ttd = serializers.FloatField(allow_null=True, help_text="MTTD, seconds")
    tta = serializers.FloatField(allow_null=True, help_text="MTTA, seconds")
    ttm = serializers.FloatField(allow_null=True, help_text="MTTM, seconds")
    ttr = serializers.FloatField(allow_null=True, help_text="MTTR, seconds")


class TimingSerializer(serializers.Serializer):
    key = serializers.IntegerField(allow_null=True, help_text="severity or service id; null: all")
    label = serializers.CharField()
    incidents = serializers.IntegerField()
    open = serializers.IntegerField()
    never_acknowledged = serializers.IntegerField()
    reopened = serializers.IntegerField()
    median = _Durations()
    p90 = _Durations()


class _Timings(serializers.Serializer):
    overall = TimingSerializer()
    by_severity = TimingSerializer(many=True)
    by_service = TimingSerializer(many=True)


class ServiceDowntimeSerializer(serializers.Serializer):
    service_id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    incidents = serializers.IntegerField()
    downtime_seconds = serializers.FloatField()
    weighted_seconds = serializers.FloatField()
    availability = serializers.FloatField(allow_null=True)
    cost_per_hour = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost = serializers.DecimalField(max_digits=20, decimal_places=2)


class _Downtime(serializers.Serializer):
    services = ServiceDowntimeSerializer(many=True)
    downtime_seconds = serializers.FloatField()
    cost = serializers.DecimalField(max_digits=20, decimal_places=2)


class _Compliance(serializers.Serializer):
    met = serializers.IntegerField()
    missed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class _Compliances(serializers.Serializer):
    rto = _Compliance()
    rpo = _Compliance()


class _SeverityCount(serializers.Serializer):
    severity = serializers.IntegerField()
    label = serializers.CharField()
    incidents = serializers.IntegerField()


class _SourceCount(serializers.Serializer):
    source = serializers.CharField()
    label = serializers.CharField()
    incidents = serializers.IntegerField()


class _CategoryCount(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()
    incidents = serializers.IntegerField()


class _FactorCount(serializers.Serializer):
    factor = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    incidents = serializers.IntegerField()


class _Counts(serializers.Serializer):
    by_severity = _SeverityCount(many=True)
    by_source = _SourceCount(many=True)
    by_category = _CategoryCount(many=True)
    by_factor = _FactorCount(many=True)


class _Level(serializers.Serializer):
    level = serializers.IntegerField()
    incidents = serializers.IntegerField()


class _Escalation(serializers.Serializer):
    levels = _Level(many=True)
    escalated = serializers.IntegerField()
    reached_l3 = serializers.IntegerField()
    reached_l4 = serializers.IntegerField()
    l3_rate = serializers.FloatField(allow_null=True)
    l4_rate = serializers.FloatField(allow_null=True)


class _Item(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    postmortem_id = serializers.IntegerField()
    owner = serializers.CharField(allow_null=True, source="owner.username", default=None)
    due_date = serializers.DateField(allow_null=True)
    status = serializers.CharField()


class _ActionItems(serializers.Serializer):
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()
    overdue_items = _Item(many=True)


class _Load(serializers.Serializer):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    incidents = serializers.IntegerField(help_text="incidents this person was paged for")
    messages = serializers.IntegerField()
    out_of_hours = serializers.IntegerField(help_text="incidents paged for out of hours")


class ScopeSerializer(serializers.Serializer):
    team = serializers.IntegerField(source="team.pk")
    service = serializers.CharField(allow_null=True, source="service.slug", default=None)
    severities = serializers.ListField(child=serializers.IntegerField())
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    include_drills = serializers.BooleanField()
    notice = serializers.CharField(help_text="set when the range was clamped to the retention")


class ReportSerializer(serializers.Serializer):
    scope = ScopeSerializer()
    timings = _Timings()
    downtime = _Downtime()
    compliance = _Compliances()
    counts = _Counts()
    escalation = _Escalation()
    action_items = _ActionItems()
    oncall = _Load(many=True)


class QuarterSerializer(serializers.Serializer):
    quarter = serializers.CharField(source="quarter.slug")
    complete = serializers.BooleanField()
    incidents = serializers.IntegerField()
    downtime_seconds = serializers.FloatField()
    mttr_median = serializers.FloatField(allow_null=True)
    mttr_p90 = serializers.FloatField(allow_null=True)
    cost = serializers.DecimalField(max_digits=20, decimal_places=2)
    availability = serializers.FloatField(allow_null=True)


class RoiSerializer(serializers.Serializer):
    downtime_change = serializers.FloatField(allow_null=True, help_text="percent; -70 = down 70 %")
    mttr_change = serializers.FloatField(allow_null=True, help_text="percent")
    cost_change = serializers.FloatField(allow_null=True, help_text="percent")
    cost_saved = serializers.DecimalField(max_digits=20, decimal_places=2)
    budget = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    resilience_low = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    resilience_high = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    return_on_resilience = serializers.FloatField(allow_null=True)


class QuartersSerializer(serializers.Serializer):
    scope = ScopeSerializer()
    quarter = QuarterSerializer()
    previous = QuarterSerializer()
    history = QuarterSerializer(many=True)
    roi = RoiSerializer()


# --- views ----------------------------------------------------------------------------------

_SCOPE_PARAMETERS = [
    OpenApiParameter("team", OpenApiTypes.INT, description="Team id; default: your first team."),
    OpenApiParameter("service", OpenApiTypes.STR, description="Service slug."),
    OpenApiParameter("severity", OpenApiTypes.STR, description="Severities, e.g. `4,5`."),
    OpenApiParameter(
        "start", OpenApiTypes.STR, description="Date or ISO date-time; give both or neither."
    ),
    OpenApiParameter(
        "end", OpenApiTypes.STR, description="Date (inclusive) or ISO date-time (exclusive)."
    ),
    OpenApiParameter("drills", OpenApiTypes.BOOL, description="Include drill incidents."),
]


_NOT_YOURS = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="No such team or service in your teams (the JSON error shape).",
)


class AnalyticsViewSet(TeamScopedMixin, viewsets.GenericViewSet):
    """Reports over the caller's teams (the mixin restricts ``get_queryset`` to them)."""

    queryset = Team.objects.all()
    team_field = "id"
    pagination_class = None
    serializer_class = ReportSerializer

    def _scope(self):
        try:
            return parse_scope(
                self.request.user,
                self.request.query_params,
                visible_team_ids=list(self.get_queryset().values_list("pk", flat=True)),
            )
        except ScopeError as exc:
            raise exceptions.ValidationError({exc.field: [exc.detail]}) from None

    @extend_schema(
        summary="The analytics report",
        parameters=_SCOPE_PARAMETERS,
        responses={200: ReportSerializer, 404: _NOT_YOURS},
    )
    @action(detail=False, methods=["get"])
    def report(self, request):
        scope = self._scope()
        return Response(ReportSerializer(metrics.report(scope)).data)

    @extend_schema(
        summary="Quarter over quarter with the ROI panel",
        parameters=[
            *_SCOPE_PARAMETERS[:3],
            _SCOPE_PARAMETERS[-1],
            OpenApiParameter("quarter", OpenApiTypes.STR, description="e.g. 2026Q1"),
            OpenApiParameter(
                "budget", OpenApiTypes.NUMBER, description="Operating budget per quarter."
            ),
        ],
        responses={200: QuartersSerializer, 404: _NOT_YOURS},
    )
    @action(detail=False, methods=["get"], serializer_class=QuartersSerializer)
    def quarters(self, request):
        scope = self._scope()
        params = request.query_params
        try:
            quarter = quarters.Quarter.parse(params["quarter"]) if params.get("quarter") else None
            budget = quarters.parse_budget(params.get("budget"))
        except ScopeError as exc:
            raise exceptions.ValidationError({exc.field: [exc.detail]}) from None
        result = quarters.quarter_over_quarter(scope, quarter=quarter, budget=budget)
        return Response(QuartersSerializer({"scope": scope, **result}).data)


def register(router) -> None:
    router.register("analytics", AnalyticsViewSet, basename="analytics")
