"""REST API of the incident core: services, incidents with their actions, timelines.

Every write goes through incidents.services, exactly as the UI's do; a refused transition is a
409 whose message is the service's reason.
"""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import audit
from accounts.models import ApiToken, User
from accounts.permissions import Action, can
from config.api import CursorPage, StrictFilterSet, TeamScopedMixin, register_domain_error
from incidents import services
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.errors import DedupConflict, IncidentError, InvalidTransition
from incidents.models import Incident, Service, Severity, Status, TimelineEntry

register_domain_error(IncidentError, status=409, code="conflict")
register_domain_error(InvalidTransition, status=409, code="invalid_transition")
register_domain_error(DedupConflict, status=409, code="dedup_conflict")

MAX_ID = 2**63 - 1
MAX_TEXT = 20_000


# --- serializers --------------------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = [
            "id",
            "team",
            "name",
            "slug",
            "description",
            "rto_minutes",
            "rpo_minutes",
            "downtime_cost_per_hour",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "description": {"max_length": MAX_TEXT},
            "downtime_cost_per_hour": {"min_value": 0},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        view = self.context.get("view")
        if request is not None and view is not None and "team" in self.fields:
            # Only the caller's teams are valid choices; others read as "does not exist".
            self.fields["team"].queryset = self.fields["team"].queryset.filter(
                pk__in=view.visible_team_ids()
            )

    def validate_team(self, team):
        if self.instance is not None and team.pk != self.instance.team_id:
            raise serializers.ValidationError("A service cannot move to another team.")
        return team


class ServiceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug"]


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name"]


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True, help_text="INC-<id>")
    service = ServiceSummarySerializer(read_only=True)
    assignee = UserSummarySerializer(read_only=True, allow_null=True)
    severity = serializers.ChoiceField(choices=Severity.choices, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "title",
            "summary",
            "severity",
            "status",
            "service",
            "team",
            "dedup_key",
            "source",
            "is_drill",
            "assignee",
            "triggered_at",
            "acknowledged_at",
            "acknowledged_by",
            "mitigated_at",
            "resolved_at",
            "resolved_by",
            "resolution_note",
            "reopened_at",
            "reopen_count",
            "repeat_count",
            "last_seen_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, incident):
        """The same output as the declared fields, built directly.

        Lists serialize 50 to 200 incidents per request, and DRF's generic field loop cost
        several times this; test_incident_representation_matches_the_declared_fields keeps
        the two identical (the declared fields still drive the schema and the generic path).
        """
        iso = _DATETIME.to_representation
        service, assignee = incident.service, incident.assignee
        return {
            "id": incident.pk,
            "reference": f"INC-{incident.pk}",
            "title": incident.title,
            "summary": incident.summary,
            "severity": incident.severity,
            "status": incident.status,
            "service": {"id": service.pk, "name": service.name, "slug": service.slug},
            "team": incident.team_id,
            "dedup_key": incident.dedup_key,
            "source": incident.source,
            "is_drill": incident.is_drill,
            "assignee": None
            if assignee is None
            else {"id": assignee.pk, "username": assignee.username, "name": str(assignee)},
            "triggered_at": iso(incident.triggered_at),
            "acknowledged_at": iso(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by_id,
            "mitigated_at": iso(incident.mitigated_at),
            "resolved_at": iso(incident.resolved_at),
            "resolved_by": incident.resolved_by_id,
            "resolution_note": incident.resolution_note,
            "reopened_at": iso(incident.reopened_at),
            "reopen_count": incident.reopen_count,
            "repeat_count": incident.repeat_count,
            "last_seen_at": iso(incident.last_seen_at),
            "updated_at": iso(incident.updated_at),
        }

    def generic_representation(self, incident):
        return super().to_representation(incident)


_DATETIME = serializers.DateTimeField()


class IncidentCreateSerializer(serializers.Serializer):
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.none())
    title = serializers.CharField(max_length=255)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.SIGNIFICANT)
    summary = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    dedup_key = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text="While an incident with this key is open on the service, creating another "
        "attaches to it (200) instead of opening a new one (201).",
    )
    is_drill = serializers.BooleanField(default=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None:
            self.fields["service"].queryset = Service.objects.filter(
                team_id__in=view.visible_team_ids()
            )


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_TEXT)


class MitigateSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=MAX_TEXT, required=False, allow_blank=True, help_text="Resolution note."
    )


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class SeveritySerializer(serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True)


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="User id of a responder in the incident's team; null unassigns.",
    )


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "kind", "actor_kind", "actor_user", "actor", "message", "data"]
        read_only_fields = fields


# --- filters ------------------------------------------------------------------------------


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """An integer id (NumberFilter would accept 1e400 and 1.5)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IncidentFilter(StrictFilterSet):
    # distinct=False: django-filter's default SELECT DISTINCT over every column costs 50 ms
    # on 100,000 incidents, and these filters join nothing that could duplicate rows.
    status = filters.MultipleChoiceFilter(
        choices=Status.choices,
        distinct=False,
        help_text="Repeat to match several: ?status=triggered&status=acknowledged",
    )
    severity = filters.MultipleChoiceFilter(
        choices=Severity.choices, distinct=False, help_text="Repeatable."
    )
    severity_min = filters.NumberFilter(
        field_name="severity", lookup_expr="gte", min_value=1, max_value=5
    )
    is_open = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_is_open",
        label="true: only open incidents; false: only resolved ones",
    )
    service = IdFilter(field_name="service_id")
    team = IdFilter(field_name="team_id")
    assignee = IdFilter(field_name="assignee_id")
    opened_after = filters.IsoDateTimeFilter(
        field_name="triggered_at", lookup_expr="gte", label="Triggered at or after (ISO 8601)"
    )
    opened_before = filters.IsoDateTimeFilter(
        field_name="triggered_at", lookup_expr="lt", label="Triggered before (ISO 8601)"
    )

    class Meta:
        model = Incident
        fields = []

    def filter_is_open(self, queryset, name, value):
        return queryset.open() if value == "true" else queryset.filter(status=Status.RESOLVED)


class ServiceFilter(StrictFilterSet):
    team = IdFilter(field_name="team_id")

    class Meta:
        model = Service
        fields = []


# --- viewsets -----------------------------------------------------------------------------


class ServiceViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Services of your teams. Writes need the manager role in the service's team."""

    queryset = Service.objects.all()
    serializer_class = ServiceSerializer
    write_action = Action.CONFIGURE
    filterset_class = ServiceFilter
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["team"].pk)
        serializer.save()


def _audit_incident(request, incident: Incident, verb: str) -> None:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    audit.record(
        action=f"incident.{verb}",
        actor=request.user,
        team=incident.team,
        target=incident.reference,
        request=request,
        data={"incident_id": incident.pk, "via": "api", "token": token.prefix if token else None},
    )


@extend_schema_view(
    list=extend_schema(summary="List incidents of your teams"),
    retrieve=extend_schema(summary="One incident"),
)
class IncidentViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Incidents of your teams. Actions need the responder role in the incident's team."""

    queryset = Incident.objects.select_related("service", "assignee")
    serializer_class = IncidentSerializer
    write_action = Action.RESPOND
    filterset_class = IncidentFilter
    ordering_fields = ["triggered_at", "updated_at", "severity", "id"]
    ordering = ["-triggered_at", "-id"]

    def _actor(self) -> Actor:
        return Actor.of_user(self.request.user)

    def _respond(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        # Re-read with the related rows the representation needs.
        fresh = Incident.objects.select_related("service", "assignee").get(pk=incident.pk)
        return Response(
            IncidentSerializer(fresh, context=self.get_serializer_context()).data, status=code
        )

    def _payload(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        request=IncidentCreateSerializer,
        responses={201: IncidentSerializer, 200: IncidentSerializer},
        summary="Declare an incident",
        description="Opens an incident (201), or with a `dedup_key` already open on the "
        "service, records a repeat on that incident (200).",
    )
    def create(self, request, *args, **kwargs):
        data = self._payload(IncidentCreateSerializer)
        service = data["service"]
        self.require(service.team_id)
        incident, created = services.open_incident(
            service=service,
            title=data["title"],
            severity=data["severity"],
            actor=self._actor(),
            summary=data.get("summary", ""),
            dedup_key=data.get("dedup_key", ""),
            is_drill=data["is_drill"],
        )
        return self._respond(incident, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses=IncidentSerializer, summary="Acknowledge")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        incident = services.acknowledge(incident=self.get_object(), actor=self._actor())
        _audit_incident(request, incident, "acknowledged")
        return self._respond(incident)

    @extend_schema(request=MitigateSerializer, responses=IncidentSerializer, summary="Mitigate")
    @action(detail=True, methods=["post"])
    def mitigate(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(MitigateSerializer)
        incident = services.mitigate(
            incident=incident, actor=self._actor(), note=data.get("note", "")
        )
        return self._respond(incident)

    @extend_schema(request=ResolveSerializer, responses=IncidentSerializer, summary="Resolve")
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(ResolveSerializer)
        incident = services.resolve(
            incident=incident, actor=self._actor(), note=data.get("note", "")
        )
        _audit_incident(request, incident, "resolved")
        return self._respond(incident)

    @extend_schema(request=ReopenSerializer, responses=IncidentSerializer, summary="Reopen")
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(ReopenSerializer)
        incident = services.reopen(
            incident=incident, actor=self._actor(), reason=data.get("reason", "")
        )
        return self._respond(incident)

    @extend_schema(
        request=None,
        responses=IncidentSerializer,
        summary="Escalate now",
        description="Asks the escalation engine to move the incident one level up.",
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        incident = services.request_escalation(incident=self.get_object(), actor=self._actor())
        return self._respond(incident)

    @extend_schema(
        request=SeveritySerializer, responses=IncidentSerializer, summary="Change severity"
    )
    @action(detail=True, methods=["post"])
    def severity(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(SeveritySerializer)
        incident = services.change_severity(
            incident=incident,
            severity=data["severity"],
            actor=self._actor(),
            reason=data.get("reason", ""),
        )
        return self._respond(incident)

    @extend_schema(request=AssignSerializer, responses=IncidentSerializer, summary="Assign")
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(AssignSerializer)
        assignee = None
        if data["assignee"] is not None:
            assignee = User.objects.filter(pk=data["assignee"], is_active=True).first()
            if assignee is None or not can(assignee, incident.team_id, Action.RESPOND):
                # Same answer for "no such user" and "not in this team": ids of others stay private.
                raise serializers.ValidationError(
                    {"assignee": ["No responder with this id in the incident's team."]}
                )
        incident = services.assign(incident=incident, assignee=assignee, actor=self._actor())
        return self._respond(incident)

    @extend_schema(
        request=NoteSerializer, responses={201: TimelineEntrySerializer}, summary="Add a note"
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(NoteSerializer)
        entry = services.add_note(incident=incident, actor=self._actor(), text=data["text"])
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class TimelinePage(CursorPage):
    ordering = ("-at", "-id")


@extend_schema_view(
    list=extend_schema(
        summary="Timeline of an incident, newest first",
        parameters=[OpenApiParameter("incident_pk", OpenApiTypes.INT, OpenApiParameter.PATH)],
    )
)
class TimelineViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TimelineEntrySerializer
    pagination_class = TimelinePage
    filter_backends: list = []
    queryset = TimelineEntry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TimelineEntry.objects.none()
        incident = get_incident_for_user(self.request.user, self.kwargs["incident_pk"])
        return TimelineEntry.objects.filter(incident=incident).select_related("actor_user")


def register(router) -> None:
    router.register("services", ServiceViewSet, basename="service")
    router.register("incidents", IncidentViewSet, basename="incident")
    router.register(
        r"incidents/(?P<incident_pk>\d+)/timeline", TimelineViewSet, basename="incident-timeline"
    )
