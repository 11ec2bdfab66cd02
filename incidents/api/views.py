"""REST API of the incident core: services, incidents with their actions, timelines.

Every write goes through incidents.services, exactly as the UI's do; a refused transition is a
409 whose message is the service's reason.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from accounts.permissions import Action, can
from config.api import CursorPage, TeamScopedMixin
from incidents import catalog, services
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from incidents.api.filters import IncidentFilter, ServiceFilter
from incidents.api.relations import IncidentRelationsMixin
from incidents.api.serializers import (
    AssignSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    MitigateSerializer,
    NoteSerializer,
    ReopenSerializer,
    ResolveSerializer,
    ServiceSerializer,
    SeveritySerializer,
    TimelineEntrySerializer,
)
from incidents.models import Incident, Service, TimelineEntry

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
        data = serializer.validated_data
        self.require(data["team"].pk)
        serializer.instance = catalog.create_service(
            team=data["team"],
            actor=Actor.of_request(self.request),
            name=data["name"],
            slug=data["slug"],
            description=data.get("description", ""),
            rto_minutes=data.get("rto_minutes"),
            rpo_minutes=data.get("rpo_minutes"),
            downtime_cost_per_hour=data.get("downtime_cost_per_hour", 0),
        )

    def perform_update(self, serializer):
        """Through incidents.catalog, which writes the audit row (``service.updated``)."""
        changes = {
            k: v for k, v in serializer.validated_data.items() if k in catalog.SERVICE_FIELDS
        }
        serializer.instance = catalog.update_service(
            service=serializer.instance, actor=Actor.of_request(self.request), changes=changes
        )


@extend_schema_view(
    list=extend_schema(summary="List incidents of your teams"),
    retrieve=extend_schema(summary="One incident"),
)
class IncidentViewSet(
    IncidentRelationsMixin,
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
        # The services write the timeline entry and the audit row (with the client's address).
        return Actor.of_request(self.request)

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
