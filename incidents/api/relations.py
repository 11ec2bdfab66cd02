"""The API's merge, link and snooze actions on an incident (mixed into IncidentViewSet).

Same services as the incident room's (incidents.merging, .links, .snooze); refusals are the
services' DomainErrors: 400 for bad input, 404 for an incident of another team, 409 when the
state does not allow it (``merge_refused``, ``invalid_transition``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api import MAX_ID
from incidents import links, merging, snooze
from incidents.access import get_incident_for_user
from incidents.api.serializers import IncidentSerializer


class OtherIncidentSerializer(serializers.Serializer):
    incident = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="Id of the other incident (the number in INC-<id>), of the same team.",
    )


class SnoozeSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=snooze.MAX_MINUTES,
        help_text="How long the acknowledged incident stays quiet before it is triggered again.",
    )


class LinkedIncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()
    severity = serializers.IntegerField()


class IncidentRelationsMixin:
    """Merge, links and snooze. Writes need the responder role (the viewset's write_action)."""

    def _other(self) -> object:
        data = self._payload(OtherIncidentSerializer)
        # Another team's incident is a 404, as GET /incidents/<id>/ would be.
        return get_incident_for_user(self.request.user, data["incident"])

    @extend_schema(
        request=OtherIncidentSerializer,
        responses={200: IncidentSerializer},
        summary="Merge a duplicate into this incident",
        description=(
            "Moves the other incident's alerts, notes and timeline into this one (its timeline "
            "entries are copied as `merged_entry` entries naming their origin), resolves it as "
            "a duplicate, stops its escalation and points its dedup key here, so new alerts for "
            "it land on this incident. Both must be open incidents of the same team (both drills "
            "or both real): otherwise 409 `merge_refused`; merging into itself is a 400; an "
            "incident of another team is a 404. Returns this incident."
        ),
        examples=[OpenApiExample("merge INC-42 here", value={"incident": 42}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        target = self.get_object()
        source = self._other()
        self.require(source.team_id)
        merging.merge_incidents(target=target, source=source, actor=self._actor())
        return self._respond(target)

    @extend_schema(
        methods=["GET"],
        request=None,
        responses={200: LinkedIncidentSerializer(many=True)},
        summary="Incidents linked to this one",
    )
    @extend_schema(
        methods=["POST"],
        request=OtherIncidentSerializer,
        responses={201: LinkedIncidentSerializer(many=True)},
        summary="Link a related incident",
        description="Links are symmetric: the other incident lists this one too. 409 when "
        "already linked or of another team you can see; 404 for an incident you cannot see.",
    )
    @action(detail=True, methods=["get", "post"])
    def links(self, request, pk=None):
        incident = self.get_object()
        code = status.HTTP_200_OK
        if request.method == "POST":
            links.link_incidents(incident=incident, other=self._other(), actor=self._actor())
            code = status.HTTP_201_CREATED
        return Response(self._linked(incident), status=code)

    @extend_schema(
        request=None,
        responses={200: LinkedIncidentSerializer(many=True)},
        summary="Remove a link",
        parameters=[
            OpenApiParameter("other", int, OpenApiParameter.PATH, description="Linked incident id")
        ],
    )
    @action(detail=True, methods=["delete"], url_path=r"links/(?P<other>\d+)")
    def unlink(self, request, pk=None, other=None):
        incident = self.get_object()
        linked = get_incident_for_user(request.user, other)
        links.unlink_incidents(incident=incident, other=linked, actor=self._actor())
        return Response(self._linked(incident))

    def _linked(self, incident) -> list[dict]:
        return LinkedIncidentSerializer(
            [
                {
                    "id": other.pk,
                    "reference": other.reference,
                    "title": other.title,
                    "status": other.status,
                    "severity": other.severity,
                }
                for other in links.linked_incidents(incident)
            ],
            many=True,
        ).data

    @extend_schema(
        request=SnoozeSerializer,
        responses={200: IncidentSerializer},
        summary="Snooze an acknowledged incident",
        description="After `minutes` the incident is triggered again and its escalation "
        "restarts. Snoozing again replaces the due time. 409 unless acknowledged.",
    )
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        incident = self.get_object()
        data = self._payload(SnoozeSerializer)
        snooze.snooze_incident(incident=incident, minutes=data["minutes"], actor=self._actor())
        return self._respond(incident)

    @extend_schema(
        request=None,
        responses={200: IncidentSerializer},
        summary="Cancel a snooze",
        description="The incident stays acknowledged. 409 when it is not snoozed.",
    )
    @action(detail=True, methods=["post"])
    def unsnooze(self, request, pk=None):
        incident = snooze.cancel_snooze(incident=self.get_object(), actor=self._actor())
        return self._respond(incident)
