"""REST API for escalation policies and rotations, scoped to the caller's teams.

Reads need membership (another team's object is a 404); writes need Action.CONFIGURE in the
object's team (manager or admin), else 403.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.models import Team
from accounts.permissions import Action, team_ids_of
from config.api import TeamScopedMixin
from config.limits import LIMITS_TEXT, within_limits
from oncall.models import (
    EscalationLevel,
    EscalationPolicy,
    Override,
    Rotation,
    RotationMember,
    validate_severity_rules,
)
from oncall.rotations import next_handoff, validate_rotation, who_is_on_call


class TeamField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        request = self.context["request"]
        return Team.objects.filter(pk__in=team_ids_of(request.user))


class _OnCallViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Team-scoped (config.api): writes need the manager role in the object's team, and in
    the team a new or moved object names."""

    write_action = Action.CONFIGURE
    ordering = ["id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["team"].pk)
        serializer.save()

    def perform_update(self, serializer):
        team = serializer.validated_data.get("team")
        if team is not None:
            self.require(team.pk)
        serializer.save()


# --- policies -----------------------------------------------------------------------------


class LevelSerializer(serializers.ModelSerializer):
    users = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    channels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta:
        model = EscalationLevel
        fields = ["number", "timeout_minutes", "users", "rotation", "target_team", "channels",
                  "actions"]  # fmt: skip

    def get_actions(self, level) -> list[dict]:
        return [{"id": a.pk, "name": a.name, "url": a.url} for a in level.actions.all()]


class PolicySerializer(serializers.ModelSerializer):
    team = TeamField()
    levels = LevelSerializer(many=True, read_only=True)
    services = serializers.SerializerMethodField()

    class Meta:
        model = EscalationPolicy
        fields = ["id", "team", "name", "is_team_default", "repeat_last_level", "severity_rules",
                  "levels", "services", "updated_at"]  # fmt: skip
        read_only_fields = ["updated_at"]

    def get_services(self, policy) -> list[str]:
        return [link.service.slug for link in policy.services.all()]

    def validate_severity_rules(self, value):
        from django.core.exceptions import ValidationError

        try:
            validate_severity_rules(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_repeat_last_level(self, value):
        if value > 10:
            raise serializers.ValidationError("at most 10 repeats")
        return value

    def validate(self, attrs):
        team = attrs.get("team") or getattr(self.instance, "team", None)
        name = attrs.get("name") or getattr(self.instance, "name", None)
        others = EscalationPolicy.objects.filter(team=team)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.filter(name=name).exists():
            raise serializers.ValidationError(
                {"name": "a policy with this name exists in the team"}
            )
        if attrs.get("is_team_default") and others.filter(is_team_default=True).exists():
            raise serializers.ValidationError(
                {"is_team_default": "the team already has a default policy"}
            )
        return attrs


class EscalationPolicyViewSet(_OnCallViewSet):
    serializer_class = PolicySerializer
    queryset = EscalationPolicy.objects.prefetch_related(
        "levels__users", "levels__channels", "levels__actions", "services__service"
    ).order_by("id")


# --- rotations ----------------------------------------------------------------------------


class RotationSerializer(serializers.ModelSerializer):
    team = TeamField()
    members = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        write_only=True,
        help_text="User ids in shift order.",
    )

    class Meta:
        model = Rotation
        fields = ["id", "team", "name", "time_zone", "shift_hours", "handoff_time", "start_date",
                  "members"]  # fmt: skip

    def to_representation(self, rotation):
        data = super().to_representation(rotation)
        data["members"] = [m.user_id for m in rotation.members.all()]
        return data

    def validate_time_zone(self, value):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError(f"unknown time zone {value!r}") from None
        return value

    def validate_shift_hours(self, value):
        problems = validate_rotation(shift_hours=value)
        if problems:
            raise serializers.ValidationError(problems["shift_hours"])
        return value

    def validate_start_date(self, value):
        problems = validate_rotation(start_date=value)
        if problems:
            raise serializers.ValidationError(problems["start_date"])
        return value

    def validate(self, attrs):
        team = attrs.get("team") or getattr(self.instance, "team", None)
        members = attrs.get("members")
        if members is not None:
            if len(set(members)) != len(members):
                raise serializers.ValidationError({"members": "a user appears twice"})
            known = set(
                get_user_model()
                .objects.filter(pk__in=members, memberships__team=team)
                .values_list("pk", flat=True)
            )
            unknown = [pk for pk in members if pk not in known]
            if unknown:
                raise serializers.ValidationError(
                    {"members": f"not members of the team: {unknown}"}
                )
        return attrs

    @transaction.atomic
    def create(self, validated_data):
        members = validated_data.pop("members", [])
        rotation = Rotation.objects.create(**validated_data)
        self._set_members(rotation, members)
        return rotation

    @transaction.atomic
    def update(self, rotation, validated_data):
        members = validated_data.pop("members", None)
        rotation = super().update(rotation, validated_data)
        if members is not None:
            self._set_members(rotation, members)
        return rotation

    @staticmethod
    def _set_members(rotation, members):
        rotation.members.all().delete()
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user_id=pk, position=i)
            for i, pk in enumerate(members)
        )


class OverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = Override
        fields = ["id", "user", "start", "end"]

    def validate(self, attrs):
        for name in ("start", "end"):
            if within_limits(attrs[name]) is None:
                raise serializers.ValidationError({name: f"must be {LIMITS_TEXT}"})
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "must be after start"})
        return attrs


class OnCallSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    user = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    next_handoff = serializers.DateTimeField(allow_null=True)


class RotationViewSet(_OnCallViewSet):
    serializer_class = RotationSerializer
    queryset = Rotation.objects.prefetch_related("members").order_by("id")

    @extend_schema(
        parameters=[OpenApiParameter("at", str, description="ISO time (default now)")],
        responses=OnCallSerializer,
    )
    @action(detail=True, methods=["get"], url_path="on-call")
    def on_call(self, request, pk=None):
        """Who is on call in this rotation now (or at ``?at=``), overrides included."""
        rotation = self.get_object()
        at = timezone.now()
        if request.query_params.get("at"):
            field = serializers.DateTimeField()
            try:
                at = field.to_internal_value(request.query_params["at"])
            except serializers.ValidationError:
                raise serializers.ValidationError({"at": "not an ISO 8601 date-time"}) from None
            if within_limits(at) is None:
                raise serializers.ValidationError({"at": f"must be {LIMITS_TEXT}"})
        user = who_is_on_call(rotation, at)
        return Response(
            {
                "at": at,
                "user": user.pk if user else None,
                "username": user.get_username() if user else None,
                "next_handoff": next_handoff(rotation, at),
            }
        )

    @extend_schema(request=OverrideSerializer, responses=OverrideSerializer)
    @action(detail=True, methods=["post"])
    def overrides(self, request, pk=None):
        """Add an override: ``user`` covers [start, end)."""
        rotation = self.get_object()
        serializer = OverrideSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not rotation.team.memberships.filter(user=serializer.validated_data["user"]).exists():
            raise NotFound("no such user in this team")
        serializer.save(rotation=rotation, created_by=request.user)
        return Response(serializer.data, status=201)


def _channel_test_urls():
    from django.urls import path

    from oncall import channel_api

    return [
        path("oncall/channels/<int:pk>/test", channel_api.test_channel, name="api-channel-test"),
        path(
            "oncall/contact-methods/<int:pk>/test",
            channel_api.test_contact_method,
            name="api-contact-method-test",
        ),
    ]


urlpatterns = _channel_test_urls()


def register(router) -> None:
    router.register("oncall/policies", EscalationPolicyViewSet, basename="oncall-policy")
    router.register("oncall/rotations", RotationViewSet, basename="oncall-rotation")
    from oncall.api_contact import ContactMethodViewSet

    router.register("me/contact-methods", ContactMethodViewSet, basename="me-contact-method")
