"""REST API of accounts: your teams (read), their members (roles changed by team admins) and
who you are (``/api/v1/me/``)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.actors import Actor
from accounts.invites import create_invite, invite_path, revoke_invite
from accounts.models import ApiToken, Membership, Role, Team, TeamInvite, User
from accounts.permissions import Action, can
from accounts.services import change_role, remove_member
from config.api import ForeignIdFilter, StrictFilterSet, TeamScopedMixin
from config.baseurl import public_base_url


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


class MemberSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name"]
        read_only_fields = fields


ROLES_BY_NAME = {role.label: role for role in Role}


class MembershipSerializer(serializers.ModelSerializer):
    user = MemberSerializer(read_only=True)
    role = serializers.ChoiceField(choices=list(ROLES_BY_NAME))

    class Meta:
        model = Membership
        fields = ["id", "team", "user", "role", "created_at"]
        read_only_fields = ["id", "team", "user", "created_at"]

    def to_representation(self, membership):
        data = super().to_representation(membership)
        data["role"] = Role(membership.role).label
        return data

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if "role" in values:
            values["role"] = ROLES_BY_NAME[values["role"]]
        return values


class MembershipFilter(StrictFilterSet):
    team = ForeignIdFilter(field_name="team_id")

    class Meta:
        model = Membership
        fields = []


class MembershipViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of your teams. Team admins change roles (PATCH ``{"role": "manager"}``) and
    remove members (DELETE; never the last admin: 409)."""

    queryset = Membership.objects.select_related("user")
    serializer_class = MembershipSerializer
    write_action = Action.ADMINISTER
    filterset_class = MembershipFilter
    ordering_fields = ["created_at", "id"]
    ordering = ["id"]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance):
        remove_member(membership=instance, actor=Actor.of_request(self.request))

    def perform_update(self, serializer):
        role = serializer.validated_data.get("role")
        if role is not None:
            serializer.instance = change_role(
                membership=serializer.instance,
                role=role,
                actor=Actor.of_request(self.request),
            )


class TeamInviteSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=list(ROLES_BY_NAME), default="responder")
    days = serializers.IntegerField(
        write_only=True, required=False, min_value=1, max_value=90, help_text="Default 7."
    )
    state = serializers.SerializerMethodField(help_text="pending, used, revoked or expired")

    class Meta:
        model = TeamInvite
        fields = ["id", "team", "role", "email", "days", "state", "created_at", "expires_at",
                  "used_at", "revoked_at"]  # fmt: skip
        read_only_fields = ["id", "state", "created_at", "expires_at", "used_at", "revoked_at"]

    def get_state(self, invite) -> str:
        return invite.state()

    def to_representation(self, invite):
        data = super().to_representation(invite)
        data["role"] = Role(invite.role).label
        return data


class TeamInviteViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Invite links of the teams you administer. Creating one answers its ``url`` once (only a
    hash is kept); ``POST .../revoke/`` revokes a pending one."""

    queryset = TeamInvite.objects.select_related("team")
    serializer_class = TeamInviteSerializer
    write_action = Action.ADMINISTER
    filterset_class = None
    filterset_fields: list = []
    ordering_fields = ["created_at", "id"]
    ordering = ["-id"]

    def visible_team_ids(self) -> list[int]:
        # Invites are an admin's business: other members do not see them.
        return [
            t for t in super().visible_team_ids() if can(self.request.user, t, Action.ADMINISTER)
        ]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        team = data["team"]
        if team.pk not in super().visible_team_ids():
            raise NotFound("no such team")
        self.require(team.pk)
        issued = create_invite(
            team=team,
            role=ROLES_BY_NAME[data.get("role", "responder")],
            email=data.get("email", ""),
            days=data.get("days"),
            actor=Actor.of_request(request),
            base_url=public_base_url(request),
        )
        body = self.get_serializer(issued.invite).data
        body["url"] = public_base_url(request).rstrip("/") + invite_path(issued.token)
        response = Response(body, status=201)
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(request=None, responses=TeamInviteSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invite = self.get_object()
        self.require(invite.team_id)
        invite = revoke_invite(invite=invite, actor=Actor.of_request(request))
        return Response(self.get_serializer(invite).data)


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
    router.register("memberships", MembershipViewSet, basename="membership")
    router.register("invites", TeamInviteViewSet, basename="team-invite")
