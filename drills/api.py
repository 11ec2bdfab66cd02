"""/api/v1/drills/: schedule, list, start, abort, and the drill report."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound as ApiNotFound
from rest_framework.response import Response

from accounts.permissions import Action
from config.api import TeamScopedMixin
from drills import report as drill_reports
from drills import services
from drills.models import MAX_DURATION_MINUTES, MAX_LATENCY_MS, Drill, Scenario
from incidents.actors import Actor
from incidents.models import Alert, Service
from monitoring.models import Heartbeat, Probe


class DrillSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    scenario = serializers.ChoiceField(choices=Scenario.choices)
    probe = serializers.PrimaryKeyRelatedField(
        queryset=Probe.objects.all(), required=False, allow_null=True
    )
    heartbeat = serializers.PrimaryKeyRelatedField(
        queryset=Heartbeat.objects.all(), required=False, allow_null=True
    )
    alert = serializers.PrimaryKeyRelatedField(
        queryset=Alert.objects.all(), required=False, allow_null=True
    )
    latency_ms = serializers.IntegerField(
        min_value=1, max_value=MAX_LATENCY_MS, required=False, allow_null=True
    )
    duration_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_DURATION_MINUTES, default=30
    )
    start_now = serializers.BooleanField(default=False, write_only=True)

    class Meta:
        model = Drill
        fields = [
            "id", "team", "service", "name", "scenario", "probe", "heartbeat", "alert",
            "latency_ms", "starts_at", "duration_minutes", "detect_target_seconds",
            "ack_target_seconds", "recover_target_seconds", "status", "started_at", "ended_at",
            "incident", "findings", "created_at", "start_now",
        ]  # fmt: skip
        # The partial unique indexes (one running drill per probe/heartbeat) are decided by the
        # database when a drill starts (409), not by DRF's generated validators.
        validators = []
        read_only_fields = [
            "id", "team", "status", "started_at", "ended_at", "incident", "findings", "created_at",
        ]  # fmt: skip
        extra_kwargs = {
            "detect_target_seconds": {"min_value": 1, "max_value": 30 * 86400},
            "ack_target_seconds": {"min_value": 1, "max_value": 30 * 86400},
            "recover_target_seconds": {"min_value": 1, "max_value": 30 * 86400},
            "starts_at": {"required": False, "help_text": "Default: now."},
        }


class MeasureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    actual_seconds = serializers.FloatField(allow_null=True)
    target_seconds = serializers.FloatField(allow_null=True)
    verdict = serializers.CharField()


class DrillReportSerializer(serializers.Serializer):
    drill = DrillSerializer()
    incident = serializers.IntegerField(allow_null=True)
    measures = MeasureSerializer(many=True)
    runbook_steps = serializers.ListField(child=serializers.CharField())
    messages = serializers.IntegerField()
    people_paged = serializers.IntegerField()
    all_marked_drill = serializers.BooleanField()
    went_wrong = serializers.ListField(child=serializers.CharField())


def _report_data(drill: Drill) -> dict:
    report = drill_reports.drill_report(drill)
    return {
        "drill": drill,
        "incident": report["incident"].pk if report["incident"] else None,
        "measures": [
            {
                "key": m.key,
                "label": str(m.label),
                "actual_seconds": m.actual.total_seconds() if m.actual is not None else None,
                "target_seconds": m.target.total_seconds() if m.target is not None else None,
                "verdict": m.verdict,
            }
            for m in report["measures"]
        ],
        "runbook_steps": [f"{c.run.runbook}: {c.step}" for c in report["steps"]],
        "messages": len(report["notifications"]),
        "people_paged": report["people_paged"],
        "all_marked_drill": report["all_marked"],
        "went_wrong": [str(line) for line in report["went_wrong"]],
    }


class DrillViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Game days of your teams. Scheduling needs the manager role; starting and aborting the
    responder role. A target of another team is a 404; a second running drill on the same probe
    or heartbeat a 409."""

    queryset = Drill.objects.select_related("service", "probe", "heartbeat", "alert")
    serializer_class = DrillSerializer
    team_field = "team_id"
    write_action = Action.CONFIGURE
    action_permissions = {"start": Action.RESPOND, "abort": Action.RESPOND}
    ordering = ["-starts_at", "-id"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        service = data["service"]
        if service.team_id not in self.visible_team_ids():
            raise ApiNotFound("No such service in your teams.")
        self.require(service.team_id)
        actor = Actor.of_request(self.request)
        from django.db import transaction
        from django.utils import timezone

        # One transaction: a drill that cannot start now (409) is not left behind scheduled.
        with transaction.atomic():
            drill = self._schedule(data, service, actor, timezone.now())
        serializer.instance = drill

    def _schedule(self, data, service, actor, now):
        drill = services.schedule_drill(
            service=service,
            name=data["name"],
            scenario=data["scenario"],
            starts_at=data.get("starts_at") or now,
            duration_minutes=data["duration_minutes"],
            probe=data.get("probe"),
            heartbeat=data.get("heartbeat"),
            alert=data.get("alert"),
            latency_ms=data.get("latency_ms"),
            detect_target_seconds=data.get("detect_target_seconds"),
            ack_target_seconds=data.get("ack_target_seconds"),
            recover_target_seconds=data.get("recover_target_seconds"),
            actor=actor,
        )
        if data.get("start_now"):
            drill = services.start_drill(drill=drill, actor=actor)
        return drill

    @extend_schema(request=None, responses=DrillSerializer, summary="Start a scheduled drill now")
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        drill = self.get_object()
        drill = services.start_drill(drill=drill, actor=Actor.of_request(request))
        return Response(DrillSerializer(drill).data)

    @extend_schema(request=None, responses=DrillSerializer, summary="Abort: end every injection")
    @action(detail=True, methods=["post"])
    def abort(self, request, pk=None):
        drill = self.get_object()
        drill = services.abort_drill(drill=drill, actor=Actor.of_request(request))
        return Response(DrillSerializer(drill).data)

    @extend_schema(responses=DrillReportSerializer, summary="The drill report")
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        drill = self.get_object()
        return Response(DrillReportSerializer(_report_data(drill)).data)


def register(router) -> None:
    router.register("drills", DrillViewSet, basename="drill")
