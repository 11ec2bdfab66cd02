"""REST API for integrations (the senders of alerts) and the alerts they delivered.

Creating an integration answers its secret token and hook URL once; afterwards only the
token's prefix is visible. Writes need the manager role in the service's team.
"""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import Action
from config.api import StrictFilterSet, TeamScopedMixin
from incidents.actors import Actor
from incidents.ingest.services import (
    create_integration,
    forget_cached_integrations,
    hook_url,
    rotate_integration_token,
)
from incidents.models import Alert, Integration, IntegrationKind, Service, Severity


class IntegrationSerializer(serializers.ModelSerializer):
    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    hmac_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=255,
        help_text="Grafana signature secret; write-only, empty turns the check off.",
    )  # fmt: skip
    severity_mapping = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=5), required=False,
        help_text='Overrides of the word -> severity map, e.g. {"page": 5}.',
    )  # fmt: skip
    signed = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id", "service", "kind", "name", "token_prefix", "is_active", "auto_resolve",
            "default_severity", "severity_mapping", "rate_limit_per_minute", "hmac_secret",
            "signature_header", "timestamp_header", "signed", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "token_prefix", "created_at"]
        extra_kwargs = {"rate_limit_per_minute": {"min_value": 1}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None:
            self.fields["service"].queryset = Service.objects.filter(
                team_id__in=view.visible_team_ids()
            )

    def get_signed(self, integration: Integration) -> bool:
        return bool(integration.hmac_secret)

    def validate(self, attrs):
        if self.instance is not None:
            for fixed in ("service", "kind"):
                if fixed in attrs and attrs[fixed] != getattr(self.instance, fixed):
                    raise serializers.ValidationError(
                        {fixed: f"An integration's {fixed} cannot change; create a new one."}
                    )
        return attrs


class CreatedIntegrationSerializer(IntegrationSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret token, shown only now.")
    url = serializers.CharField(read_only=True, help_text="Where the sender posts.")

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "token", "url"]


class RotateTokenSerializer(serializers.Serializer):
    grace_hours = serializers.IntegerField(
        min_value=0, max_value=168, default=24,
        help_text="How long the previous token keeps working (0 = retire it at once).",
    )  # fmt: skip


class RotatedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The new secret token, shown only now.")
    url = serializers.CharField()
    previous_token_expires_at = serializers.DateTimeField(allow_null=True)


class IntegrationFilter(StrictFilterSet):
    class Meta:
        model = Integration
        fields = ["service", "kind"]


@extend_schema_view(
    create=extend_schema(
        summary="Create an integration; its token is in this answer only",
        responses={201: CreatedIntegrationSerializer},
    )
)
class IntegrationViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Alert senders of your teams' services. Writes need the manager role."""

    queryset = Integration.objects.select_related("service")
    serializer_class = IntegrationSerializer
    team_field = "service__team_id"
    write_action = Action.CONFIGURE
    filterset_class = IntegrationFilter
    ordering_fields = ["name", "created_at", "id"]
    ordering = ["name", "id"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.require(data["service"].team_id)
        integration, token = create_integration(
            service=data["service"],
            kind=data["kind"],
            name=data["name"],
            actor=Actor.of_request(request),
            auto_resolve=data.get("auto_resolve", True),
            hmac_secret=data.get("hmac_secret", ""),
            rate_limit_per_minute=data.get("rate_limit_per_minute"),
            severity_mapping=data.get("severity_mapping"),
        )
        extra = {
            k: data[k]
            for k in ("default_severity", "signature_header", "timestamp_header")
            if k in data
        }
        if extra:
            Integration.objects.filter(pk=integration.pk).update(**extra)
            integration.refresh_from_db()
        body = CreatedIntegrationSerializer(integration, context=self.get_serializer_context()).data
        body["token"] = token
        body["url"] = hook_url(integration, token)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Give the integration a new token; the old one works for a grace period",
        request=RotateTokenSerializer,
        responses={200: RotatedTokenSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-token")
    def rotate_token(self, request, pk=None):
        integration = self.get_object()
        self.require(integration.service.team_id)
        form = RotateTokenSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        integration, token = rotate_integration_token(
            integration=integration,
            actor=Actor.of_request(request),
            grace=timedelta(hours=form.validated_data["grace_hours"]),
        )
        return Response(
            {
                "token": token,
                "url": hook_url(integration, token),
                "previous_token_expires_at": integration.previous_token_expires_at,
            }
        )

    def perform_update(self, serializer):
        self.require(serializer.instance.service.team_id)
        serializer.save()
        # Other processes pick the change up within INGEST_INTEGRATION_CACHE_SECONDS.
        forget_cached_integrations()

    def perform_destroy(self, instance):
        self.require(instance.service.team_id)
        instance.delete()
        forget_cached_integrations()


class AlertSerializer(serializers.ModelSerializer):
    severity = serializers.ChoiceField(choices=Severity.choices, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "incident", "integration", "fingerprint", "status", "severity", "summary",
            "labels", "annotations", "details", "source_url", "starts_at", "ends_at",
            "first_seen_at", "last_seen_at", "resolved_at", "count",
        ]  # fmt: skip
        read_only_fields = fields


class AlertFilter(StrictFilterSet):
    class Meta:
        model = Alert
        fields = ["incident", "integration", "status"]


class AlertViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Alerts your teams' integrations delivered, each linked to its incident (read only)."""

    queryset = Alert.objects.all()
    serializer_class = AlertSerializer
    team_field = "incident__team_id"
    filterset_class = AlertFilter
    ordering_fields = ["first_seen_at", "last_seen_at", "id"]
    ordering = ["-first_seen_at", "-id"]


def register(router) -> None:
    router.register("integrations", IntegrationViewSet, basename="integration")
    router.register("alerts", AlertViewSet, basename="alert")
