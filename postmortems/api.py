"""REST API for post-mortems and action items: team-scoped, writes through the services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.models import User
from accounts.permissions import Action, can, team_ids_of
from postmortems import services
from postmortems.facts import measure
from postmortems.models import ActionItem, ContributingFactor, PostMortem, WhyNode


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50


def _require(user, team_id: int, needed: Action) -> None:
    if not can(user, team_id, needed):
        raise PermissionDenied(
            f"your role in this team does not allow this ({needed.name.lower()})"
        )


def _seconds(value):
    return None if value is None else value.total_seconds()


class WhySerializer(serializers.ModelSerializer):
    class Meta:
        model = WhyNode
        fields = ["id", "parent", "position", "question", "answer", "is_root_cause"]


class FactorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContributingFactor
        fields = ["id", "category", "factor", "description"]


class ActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "postmortem",
            "title",
            "owner",
            "due_date",
            "priority",
            "status",
            "link",
            "created_at",
            "completed_at",
        ]
        read_only_fields = ["created_at", "completed_at"]


class PostMortemSerializer(serializers.ModelSerializer):
    whys = WhySerializer(many=True, read_only=True)
    factors = FactorSerializer(many=True, read_only=True)
    items = ActionItemSerializer(many=True, read_only=True)
    facts = serializers.SerializerMethodField()

    class Meta:
        model = PostMortem
        fields = [
            "id",
            "incident",
            "team",
            "title",
            "status",
            "summary",
            "impact",
            "what_went_well",
            "what_went_wrong",
            "lessons_learned",
            "impact_started_at",
            "data_loss_from",
            "data_loss_until",
            "facts",
            "whys",
            "factors",
            "items",
            "created_at",
            "published_at",
        ]
        read_only_fields = ["incident", "team", "status", "created_at", "published_at"]

    def get_facts(self, postmortem) -> dict:
        facts = measure(postmortem)
        return {
            "impact_started_at": facts.impact_started_at,
            "time_to_detect_seconds": _seconds(facts.time_to_detect),
            "time_to_acknowledge_seconds": _seconds(facts.time_to_acknowledge),
            "time_to_mitigate_seconds": _seconds(facts.time_to_mitigate),
            "time_to_recover_seconds": _seconds(facts.time_to_recover),
            "data_loss_seconds": _seconds(facts.data_loss),
            "rto": {"verdict": facts.rto.state, "margin_seconds": _seconds(facts.rto.margin)},
            "rpo": {"verdict": facts.rpo.state, "margin_seconds": _seconds(facts.rpo.margin)},
            "downtime_cost": str(facts.downtime_cost) if facts.downtime_cost is not None else None,
        }


class ReturnSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PostMortemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Post-mortems of your teams; filter with ``?status=draft|in_review|published``."""

    serializer_class = PostMortemSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        postmortems = (
            PostMortem.objects.filter(team_id__in=team_ids_of(self.request.user))
            .select_related("incident__service")
            .prefetch_related("whys", "factors", "items")
        )
        wanted = self.request.query_params.get("status")
        if wanted:
            postmortems = postmortems.filter(status=wanted)
        return postmortems

    def update(self, request, *args, **kwargs):
        postmortem = self.get_object()
        _require(request.user, postmortem.team_id, Action.RESPOND)
        serializer = self.get_serializer(postmortem, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {
            k: v for k, v in serializer.validated_data.items() if k in services.EDITABLE_FIELDS
        }
        try:
            services.update_postmortem(postmortem=postmortem, by=request.user, changes=changes)
        except services.PostmortemError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(PostMortemSerializer(self.get_queryset().get(pk=postmortem.pk)).data)

    def _transition(self, request, verb, needed: Action):
        postmortem = self.get_object()
        _require(request.user, postmortem.team_id, needed)
        try:
            if verb == "submit":
                services.submit_for_review(postmortem=postmortem, by=request.user)
            elif verb == "publish":
                services.publish(postmortem=postmortem, by=request.user)
            else:
                body = ReturnSerializer(data=request.data)
                body.is_valid(raise_exception=True)
                services.return_to_draft(
                    postmortem=postmortem, by=request.user, note=body.validated_data["note"]
                )
        except services.PostmortemError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(PostMortemSerializer(self.get_queryset().get(pk=postmortem.pk)).data)

    @extend_schema(request=None, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, "submit", Action.RESPOND)

    @extend_schema(request=None, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._transition(request, "publish", Action.CONFIGURE)

    @extend_schema(request=ReturnSerializer, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_draft(self, request, pk=None):
        return self._transition(request, "return", Action.CONFIGURE)


class ActionItemViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Action items of your teams' post-mortems; ``?overdue=1`` lists the overdue ones."""

    serializer_class = ActionItemSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        items = ActionItem.objects.filter(postmortem__team_id__in=team_ids_of(self.request.user))
        if self.request.query_params.get("overdue") == "1":
            items = items.overdue()
        return items

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if not isinstance(serializer, ActionItemSerializer):
            return serializer  # lists
        # Another team's post-mortem id reads exactly like one that does not exist.
        teams = team_ids_of(self.request.user)
        serializer.fields["postmortem"].queryset = PostMortem.objects.filter(team_id__in=teams)
        serializer.fields["owner"].queryset = User.objects.filter(memberships__team_id__in=teams)
        return serializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        postmortem = data["postmortem"]
        if postmortem.team_id not in team_ids_of(request.user):
            raise ValidationError({"postmortem": "no such post-mortem"})
        _require(request.user, postmortem.team_id, Action.RESPOND)
        try:
            item = services.add_action_item(
                postmortem=postmortem,
                by=request.user,
                title=data["title"],
                owner=data.get("owner"),
                due_date=data.get("due_date"),
                priority=data.get("priority", 3),
                link=data.get("link", ""),
            )
        except services.PostmortemError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        item = self.get_object()
        _require(request.user, item.postmortem.team_id, Action.RESPOND)
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k != "postmortem"}
        try:
            item = services.update_action_item(item=item, by=request.user, changes=changes)
        except services.PostmortemError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(ActionItemSerializer(item).data)


def register(router) -> None:
    router.register("postmortems", PostMortemViewSet, basename="postmortem")
    router.register("action-items", ActionItemViewSet, basename="action-item")
