"""REST API of monitoring: probes and heartbeats, scoped to the caller's teams.

Reading needs membership (VIEW); creating, changing, pausing and deleting need CONFIGURE in the
team that owns the service. Another team's probe or heartbeat answers 404.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import Action, team_ids_of
from config.api import TeamScopedMixin
from incidents.actors import Actor
from incidents.models import Service
from monitoring import services, stats
from monitoring.models import Heartbeat, Probe, ProbeResult


class ServiceField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        request = self.context["request"]
        return Service.objects.filter(team_id__in=team_ids_of(request.user))


class _ModelClean:
    """Model validation (``clean``) on top of field validation."""

    def validate(self, attrs):
        instance = self.instance or self.Meta.model()
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


def _severity(default: int) -> serializers.IntegerField:
    # Plain integers 1-5 (as the incident API): one choice set under several names upsets the
    # OpenAPI enum naming.
    return serializers.IntegerField(min_value=1, max_value=5, default=default)


class ProbeSerializer(_ModelClean, serializers.ModelSerializer):
    service = ServiceField()
    severity_down = _severity(4)
    severity_degraded = _severity(2)

    class Meta:
        model = Probe
        fields = [
            "id", "service", "name", "method", "url", "headers", "body", "expected_status",
            "expected_text", "expected_json_path", "expected_json_value", "timeout_seconds",
            "interval_seconds", "latency_threshold_ms", "failures_to_open",
            "successes_to_recover", "severity_down", "severity_degraded", "paused", "state",
            "next_due_at", "last_checked_at", "last_latency_ms", "last_status_code", "last_error",
            "state_changed_at",
        ]  # fmt: skip
        read_only_fields = [
            "paused", "state", "next_due_at", "last_checked_at", "last_latency_ms",
            "last_status_code", "last_error", "state_changed_at",
        ]  # fmt: skip

    def validate_url(self, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("probes call http:// or https:// URLs only")
        return url


class ProbeResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProbeResult
        fields = ["at", "ok", "latency_ms", "status_code", "error", "message"]


class HeartbeatSerializer(_ModelClean, serializers.ModelSerializer):
    service = ServiceField()
    severity = _severity(4)
    ping_url = serializers.SerializerMethodField()

    class Meta:
        model = Heartbeat
        fields = [
            "id", "service", "name", "uuid", "ping_url", "period_seconds", "grace_seconds",
            "severity", "state", "alert_after", "last_ping_at", "last_start_at",
            "last_exit_status", "ping_count", "state_changed_at",
        ]  # fmt: skip
        read_only_fields = [
            "uuid", "state", "alert_after", "last_ping_at", "last_start_at", "last_exit_status",
            "ping_count", "state_changed_at",
        ]  # fmt: skip

    def get_ping_url(self, heartbeat: Heartbeat) -> str:
        return settings.BASE_URL + heartbeat.ping_path


class _MonitorViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Team-scoped (another team's object is a 404); writes need CONFIGURE in the service's team."""

    team_field = "service__team_id"
    write_action = Action.CONFIGURE
    filterset_fields = ["service", "state"]
    ordering_fields = ["name", "id"]
    ordering = ["id"]

    def get_queryset(self):
        return super().get_queryset().select_related("service")

    def perform_create(self, serializer):
        self.require(serializer.validated_data["service"].team_id)
        serializer.save()

    def perform_update(self, serializer):
        if "service" in serializer.validated_data:
            self.require(serializer.validated_data["service"].team_id)
        serializer.save()


class ProbeViewSet(_MonitorViewSet):
    """HTTP probes. A new probe runs at the next scheduler tick, then every interval."""

    queryset = Probe.objects.all()
    serializer_class = ProbeSerializer

    @extend_schema(request=None, responses=ProbeSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        probe = self.get_object()  # a write: TeamPermission requires CONFIGURE in its team
        return Response(
            ProbeSerializer(
                services.pause_probe(probe=probe, actor=Actor.of_request(request)),
                context={"request": request},
            ).data
        )

    @extend_schema(request=None, responses=ProbeSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        probe = self.get_object()  # a write: TeamPermission requires CONFIGURE in its team
        return Response(
            ProbeSerializer(
                services.resume_probe(probe=probe, actor=Actor.of_request(request)),
                context={"request": request},
            ).data
        )

    @extend_schema(request=None, responses=dict)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        """p50/p95/p99 latency (ms) and error rate over the last 1 h, 24 h and 7 d."""
        windows = stats.probe_stats(self.get_object())
        return Response(
            {
                name: {
                    "runs": w.runs,
                    "failures": w.failures,
                    "error_rate": w.error_rate,
                    "p50_ms": w.p50_ms,
                    "p95_ms": w.p95_ms,
                    "p99_ms": w.p99_ms,
                }
                for name, w in windows.items()
            }
        )

    @extend_schema(request=None, responses=ProbeResultSerializer(many=True))
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """The latest 100 results, newest first."""
        probe = self.get_object()
        return Response(
            ProbeResultSerializer(probe.results.order_by("-at", "-id")[:100], many=True).data
        )


class HeartbeatViewSet(_MonitorViewSet):
    """Push heartbeats: the monitored job calls its ping URL (healthchecks.io conventions)."""

    queryset = Heartbeat.objects.all()
    serializer_class = HeartbeatSerializer

    @extend_schema(request=None, responses=HeartbeatSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        heartbeat = self.get_object()  # a write: TeamPermission requires CONFIGURE in its team
        paused = services.pause_heartbeat(heartbeat=heartbeat, actor=Actor.of_request(request))
        return Response(HeartbeatSerializer(paused, context={"request": request}).data)


def register(router) -> None:
    router.register("probes", ProbeViewSet, basename="probe")
    router.register("heartbeats", HeartbeatViewSet, basename="heartbeat")
