"""Serializers of the incident core's API: services, incidents, actions, timeline."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import User
from incidents.models import Incident, Service, Severity, TimelineEntry

MAX_ID = 2**63 - 1
MAX_TEXT = 20_000


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
            "archived_at",
        ]
        read_only_fields = ["id", "created_at", "archived_at"]
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
