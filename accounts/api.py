"""REST API of accounts: your teams (read) and who you are (``/api/v1/me/``)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from accounts.models import ApiToken, Membership, Role, Team
from config.api import TeamScopedMixin


class TeamSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this team.")

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "role", "created_at"]
        read_only_fields = fields

    def get_role(self, team) -> str:
        role = getattr(team, "my_role", None)
        if role is None:
            # Only superusers see teams they do not belong to; they act as admins there.
            return Role.ADMIN.label
        return Role(role).label


class TeamViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Teams you belong to, with your role in each."""

    serializer_class = TeamSerializer
    queryset = Team.objects.all()
    team_field = "id"
    filterset_fields: list = []
    ordering_fields = ["name", "id"]
    ordering = ["name", "id"]

    def get_queryset(self):
        my_role = Membership.objects.filter(team=OuterRef("pk"), user=self.request.user.pk)
        return super().get_queryset().annotate(my_role=Subquery(my_role.values("role")[:1]))


class TokenInfoSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["prefix", "name", "read_only", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    token = TokenInfoSerializer(allow_null=True, help_text="The token of this request, if any.")


@extend_schema(responses=MeSerializer, summary="Who am I (and which token is this)")
@api_view(["GET"])
def me(request):
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return Response(
        MeSerializer(
            {
                "id": request.user.pk,
                "username": request.user.get_username(),
                "name": str(request.user),
                "token": token,
            }
        ).data
    )


urlpatterns = [path("me/", me, name="api-me")]


def register(router) -> None:
    router.register("teams", TeamViewSet, basename="team")
