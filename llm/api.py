"""REST API of llm: model endpoints, route subscribers, the route, telemetry and feedback.

Endpoints and subscribers: reading needs membership, writing CONFIGURE in the service's team;
the credential is write-only (``credential``) or a reference (``credential_env``) and appears in
no answer. The route is read by the avatar (VIEW) and answers ETag/304. Telemetry and feedback
need RESPOND in the service's team; telemetry answers 202 with rejected events named by index.
"""

from __future__ import annotations

import functools
import math

from django.conf import settings
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Action, can, team_ids_of
from config.api import TeamScopedMixin
from incidents.actors import Actor
from incidents.models import Service
from llm import access, breaker, endpoints, fastpath, routing, telemetry
from llm.models import ModelEndpoint, RouteSubscriber


class ServiceSlugField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self):
        request = self.context["request"]
        return Service.objects.filter(team_id__in=team_ids_of(request.user))


class ModelEndpointSerializer(serializers.ModelSerializer):
    service = ServiceSlugField()
    credential = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=4000, trim_whitespace=True,
        help_text="The provider key; stored encrypted, never shown again. Empty removes it.",
    )  # fmt: skip
    has_credential = serializers.BooleanField(read_only=True)
    price_in_per_1k = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False
    )
    price_out_per_1k = serializers.DecimalField(
        max_digits=12, decimal_places=6, min_value=0, required=False
    )

    class Meta:
        model = ModelEndpoint
        fields = [
            "id", "service", "name", "provider", "base_url", "model", "tier", "credential",
            "credential_env", "has_credential", "price_in_per_1k", "price_out_per_1k",
            "slow_call_ms", "slow_rate_threshold", "failure_rate_threshold", "window_seconds",
            "minimum_calls", "open_wait_seconds", "half_open_calls", "enabled", "probe_enabled",
            "probe_interval_seconds", "probe_timeout_seconds", "probe_prompt", "probe_expect",
            "breaker_state", "breaker_changed_at", "breaker_reason", "last_probe_at",
            "last_latency_ms", "last_ttft_ms", "last_outcome",
        ]  # fmt: skip
        read_only_fields = [
            "breaker_state", "breaker_changed_at", "breaker_reason", "last_probe_at",
            "last_latency_ms", "last_ttft_ms", "last_outcome",
        ]  # fmt: skip
        # The (service, name) uniqueness is the service's to report (409), not a 400 here.
        validators = []

    def validate_base_url(self, value: str) -> str:
        endpoints.check_outbound_url(value)
        return value

    def validate_probe_timeout_seconds(self, value: float) -> float:
        if not math.isfinite(value):
            raise serializers.ValidationError("must be a finite number of seconds")
        return value

    def validate_credential_env(self, value: str) -> str:
        if value and not value.replace("_", "").isalnum():
            raise serializers.ValidationError("an environment variable name: letters, digits, _")
        return value


class ModelEndpointViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Model endpoints of services (tier 1 primary, 2 secondary, ...) with their breakers."""

    queryset = ModelEndpoint.objects.select_related("service")
    serializer_class = ModelEndpointSerializer
    team_field = "service__team_id"
    write_action = Action.CONFIGURE
    filterset_fields = ["service", "provider", "breaker_state"]
    ordering_fields = ["tier", "name", "id"]
    ordering = ["id"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        service = data.pop("service")
        self.require(service.team_id)
        credential = data.pop("credential", "")
        serializer.instance = endpoints.create_endpoint(
            service=service, actor=Actor.of_request(self.request), credential=credential, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        service = data.pop("service", None)
        if service is not None and service.pk != serializer.instance.service_id:
            raise ValidationError({"service": ["An endpoint cannot move to another service."]})
        credential = data.pop("credential", None)
        serializer.instance = endpoints.update_endpoint(
            endpoint=serializer.instance,
            actor=Actor.of_request(self.request),
            credential=credential,
            **data,
        )

    def perform_destroy(self, instance):
        endpoints.delete_endpoint(endpoint=instance, actor=Actor.of_request(self.request))


class RouteSubscriberSerializer(serializers.ModelSerializer):
    service = ServiceSlugField()
    secret = serializers.SerializerMethodField(
        help_text="The HMAC signing secret: in the answer to the POST that created it only."
    )

    class Meta:
        model = RouteSubscriber
        fields = ["id", "service", "url", "active", "secret", "created_at"]
        read_only_fields = ["active", "created_at"]

    def get_secret(self, obj) -> str | None:
        return getattr(obj, "_plain_secret", None)

    def validate_url(self, value: str) -> str:
        endpoints.check_outbound_url(value, what="url")
        return value


class RouteSubscriberViewSet(
    TeamScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """URLs told by signed webhook (X-Vigil-Signature) whenever a service's route changes."""

    queryset = RouteSubscriber.objects.select_related("service")
    serializer_class = RouteSubscriberSerializer
    team_field = "service__team_id"
    write_action = Action.CONFIGURE
    filterset_fields = ["service"]
    ordering = ["id"]

    def perform_create(self, serializer):
        service = serializer.validated_data["service"]
        self.require(service.team_id)
        subscriber, secret = endpoints.add_route_subscriber(
            service=service,
            url=serializer.validated_data["url"],
            actor=Actor.of_request(self.request),
        )
        subscriber._plain_secret = secret
        serializer.instance = subscriber


_ENDPOINT_SHAPE = inline_serializer(
    "RouteEndpoint",
    {
        "name": serializers.CharField(),
        "provider": serializers.CharField(),
        "model": serializers.CharField(),
        "base_url": serializers.CharField(),
        "tier": serializers.IntegerField(),
        "slow_call_ms": serializers.IntegerField(),
    },
)
_ROUTE_SHAPE = inline_serializer(
    "Route",
    {
        "service": serializers.CharField(),
        "tier": serializers.IntegerField(allow_null=True),
        "endpoint": _ENDPOINT_SHAPE,
        "since": serializers.DateTimeField(allow_null=True),
        "reason": serializers.CharField(),
        "fallbacks": serializers.ListField(child=_ENDPOINT_SHAPE),
        "degradation": inline_serializer(
            "RouteDegradation",
            {
                "message": serializers.CharField(),
                "messages": serializers.DictField(
                    child=serializers.CharField(),
                    help_text="The status page's words in each of its languages (empty when "
                    "the message is the service's own failover text).",
                ),
            },
            required=False,
        ),
    },
)


def forget_route_access() -> None:
    fastpath.forget()
    breaker.forget_claims()


def _with_fast_path(cls, serve, initkwargs):
    """The DRF view behind ``serve`` (llm.fastpath): requests of a token this process already
    checked are answered there; everything else, and whatever it cannot decide, by DRF."""
    full = super(cls, cls).as_view(**initkwargs)
    counted = super(cls, cls).as_view(**{**initkwargs, "throttle_classes": ()})

    @functools.wraps(full)
    def view(request, *args, **kwargs):
        return serve(request, *args, full=full, counted=counted, **kwargs)

    return view


def _route_service(request, slug: str) -> Service:
    service = access.services_for(request.user, {slug}, Action.VIEW)[slug]
    if service is None:
        raise NotFound(f"No service {slug!r} in your teams.")
    return service


def _service_for(request, slug: str, action: Action) -> Service:
    service = Service.objects.filter(slug=slug).only("pk", "slug", "team_id", "name").first()
    if service is None or not can(request.user, service.team_id, Action.VIEW):
        raise NotFound(f"No service {slug!r} in your teams.")
    if not can(request.user, service.team_id, action):
        raise PermissionDenied("Your role in this team does not allow this.")
    return service


class RouteView(APIView):
    """The active model endpoint of a service, served from the cache (ETag/304)."""

    @extend_schema(
        responses={200: _ROUTE_SHAPE, 304: OpenApiResponse(description="Not modified.")},
        description=(
            "The endpoint the avatar should call now (the lowest tier whose breaker is "
            "closed), with the other closed tiers to retry within the same call. When no tier "
            "is available, `tier` and `endpoint` are null and `degradation.message` says what "
            "the avatar should say. Send `If-None-Match` with the last ETag to get 304."
        ),
    )
    def get(self, request, slug: str):
        service = _route_service(request, slug)
        return fastpath.route_response(request, routing.route_answer(service))

    @classmethod
    def as_view(cls, **initkwargs):
        return _with_fast_path(cls, fastpath.serve_route, initkwargs)


_EVENT_FIELDS = (
    "Each event: `time` (ISO 8601, default now), `service` (slug), `endpoint` (name), "
    "`latency_ms` (0 to 86,400,000), `ttft_ms` (optional), `outcome` (`ok` or an error kind: "
    "timeout, rate_limit, overloaded, server_error, auth, bad_request, connection, blocked, "
    "malformed, wrong_answer, other), `tokens_in`, `tokens_out` (>= 0), `cost` (optional, "
    "default from the endpoint's prices), `feedback` (optional, -1 to 1). Events are validated "
    "one by one: a bad event is named by its index in `rejected` and the rest are stored, so "
    "the schema accepts any object here."
)


class TelemetryView(APIView):
    """Model-call telemetry in batches; bad events are rejected by index, the rest stored."""

    @extend_schema(
        request=inline_serializer(
            "TelemetryBatch",
            {"events": serializers.ListField(child=serializers.JSONField(), max_length=1000)},
        ),
        description=_EVENT_FIELDS,
        responses={
            202: inline_serializer(
                "TelemetryAccepted",
                {
                    "accepted": serializers.IntegerField(),
                    "rejected": serializers.ListField(
                        child=inline_serializer(
                            "TelemetryRejection",
                            {"index": serializers.IntegerField(), "error": serializers.CharField()},
                        )
                    ),
                },
            )
        },
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ValidationError({"events": ['A JSON object with a list "events" is required.']})
        events = body["events"]
        limit = settings.LLM_TELEMETRY_MAX_EVENTS
        if len(events) > limit:
            raise ValidationError({"events": [f"At most {limit} events per request."]})
        accepted, rejected = telemetry.ingest(user=request.user, events=events)
        return Response(
            {"accepted": accepted, "rejected": rejected}, status=status.HTTP_202_ACCEPTED
        )

    @classmethod
    def as_view(cls, **initkwargs):
        return _with_fast_path(cls, fastpath.serve_telemetry, initkwargs)


class FeedbackSerializer(serializers.Serializer):
    service = serializers.SlugField(max_length=64)
    conversation = serializers.CharField(max_length=200)
    negative = serializers.BooleanField(default=True, help_text="A thumbs-down (the default).")
    comment = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    endpoint = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    time = serializers.DateTimeField(required=False)

    def validate_comment(self, value: str) -> str:
        if "\x00" in value:
            raise serializers.ValidationError("must not contain NUL characters")
        return value

    def validate_conversation(self, value: str) -> str:
        if "\x00" in value:
            raise serializers.ValidationError("must not contain NUL characters")
        return value


class FeedbackView(APIView):
    """A user's thumbs-down (with an optional comment) on a conversation: a quality signal."""

    @extend_schema(
        request=FeedbackSerializer,
        responses={
            202: inline_serializer("FeedbackAccepted", {"id": serializers.IntegerField()}),
            404: OpenApiResponse(description="No such service (or endpoint) in your teams."),
        },
    )
    def post(self, request):
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = _service_for(request, data["service"], Action.RESPOND)
        endpoint = None
        if data["endpoint"]:
            endpoint = ModelEndpoint.objects.filter(service=service, name=data["endpoint"]).first()
            if endpoint is None:
                raise NotFound(f"Service {service.slug!r} has no endpoint {data['endpoint']!r}.")
        at = data.get("time") or timezone.now()
        if not telemetry.EARLIEST <= at < telemetry.LATEST:
            raise ValidationError({"time": ["Must be between 1970 and 2100."]})
        feedback = telemetry.record_feedback(
            service=service,
            conversation=data["conversation"],
            negative=data["negative"],
            comment=data["comment"],
            endpoint=endpoint,
            at=at,
        )
        return Response({"id": feedback.pk}, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("llm/endpoints", ModelEndpointViewSet, basename="llm-endpoint")
    router.register(
        "llm/route-subscribers", RouteSubscriberViewSet, basename="llm-route-subscriber"
    )


urlpatterns = [
    path("services/<slug:slug>/route", RouteView.as_view(), name="llm-route"),
    path("telemetry", TelemetryView.as_view(), name="llm-telemetry"),
    path("feedback", FeedbackView.as_view(), name="llm-feedback"),
]
