"""REST API for a person's own contact methods: ``/api/v1/me/contact-methods/``.

Everyone signed in manages their own (list, add, remove, reorder, verify by a test message);
nobody sees another person's. A read-only token may list, not change. Writes go through
oncall.configure, which writes the audit rows.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import READ_ONLY_TOKEN_MESSAGE
from config.api import token_may_write
from config.errors import InvalidInput
from incidents.actors import Actor
from oncall import configure
from oncall.models import ChannelKind, ContactMethod


class OwnWritable(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method not in permissions.SAFE_METHODS and not token_may_write(request):
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE)
        return True


class ContactMethodSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(
        max_length=16, help_text="email, webhook (signed JSON) or slack (Slack-compatible)."
    )
    target = serializers.CharField(max_length=500, help_text="E-mail address or http(s) URL.")
    secret = serializers.CharField(
        max_length=128, required=False, allow_blank=True, write_only=True,
        help_text="HMAC key for webhooks; write-only.",
    )  # fmt: skip

    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "target", "secret", "is_active", "position", "verified_at",
                  "created_at"]  # fmt: skip
        read_only_fields = ["id", "is_active", "position", "verified_at", "created_at"]


class MoveSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["up", "down"])


class SendResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    status_code = serializers.IntegerField(allow_null=True)


class ContactMethodViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your own contact methods, in the order pages reach them."""

    serializer_class = ContactMethodSerializer
    permission_classes = [OwnWritable]
    pagination_class = None

    queryset = ContactMethod.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ContactMethod.objects.none()
        return ContactMethod.objects.filter(user=self.request.user).order_by("position", "id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["kind"] not in ChannelKind.values:
            raise serializers.ValidationError({"kind": [f"one of {', '.join(ChannelKind.values)}"]})
        try:
            method = configure.add_contact_method(
                user=request.user, kind=data["kind"], target=data["target"],
                secret=data.get("secret", ""), actor=Actor.of_request(request),
            )  # fmt: skip
        except InvalidInput as exc:
            field, _sep, problem = exc.message.partition(": ")
            raise serializers.ValidationError({field: [problem or exc.message]}) from None
        return Response(self.get_serializer(method).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        configure.remove_contact_method(method=instance, actor=Actor.of_request(self.request))

    @extend_schema(request=MoveSerializer, responses=ContactMethodSerializer(many=True))
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        """Move one place up or down; answers the whole list in its new order."""
        method = self.get_object()
        form = MoveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        configure.move_contact_method(
            method=method, direction=form.validated_data["direction"],
            actor=Actor.of_request(request),
        )  # fmt: skip
        return Response(self.get_serializer(self.get_queryset(), many=True).data)

    @extend_schema(request=None, responses=SendResultSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Send a test message now; a delivered one marks the method verified."""
        result = configure.verify_contact_method(
            method=self.get_object(), actor=Actor.of_request(request)
        )
        return Response({"ok": result.ok, "error": result.error, "status_code": result.status_code})
