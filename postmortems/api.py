"""REST API for post-mortems and action items.

Team scoping, roles, pagination and the error shape come from config.api; writes go through
postmortems.services. A request the post-mortem's state refuses (published is read-only,
publishing without a root cause) is a 409 whose message is the service's reason.
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from accounts.permissions import Action
from config.api import ForeignIdFilter, StrictFilterSet, TeamScopedMixin
from incidents.actors import Actor
from incidents.markdown import validate_markdown
from postmortems import services
from postmortems.facts import measure
from postmortems.models import (
    EDITABLE_FIELDS,
    ActionItem,
    ContributingFactor,
    ItemStatus,
    PostMortem,
    ReviewComment,
    Status,
    WhyNode,
)


def _seconds(value) -> float | None:
    return None if value is None else value.total_seconds()


class WhySerializer(serializers.ModelSerializer):
    class Meta:
        model = WhyNode
        fields = ["id", "parent", "position", "question", "answer", "is_root_cause"]


class ReviewCommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewComment
        fields = ["id", "author", "author_name", "body", "during", "created_at"]
        read_only_fields = ["id", "author", "author_name", "during", "created_at"]


class FactorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContributingFactor
        fields = ["id", "category", "factor", "description"]


class ActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.none(), required=False, allow_null=True
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
        read_only_fields = ["id", "created_at", "completed_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None and hasattr(view, "visible_team_ids"):
            # Another team's post-mortem or member reads exactly like one that does not exist.
            teams = view.visible_team_ids()
            self.fields["postmortem"].queryset = PostMortem.objects.filter(team_id__in=teams)
            self.fields["owner"].queryset = User.objects.filter(
                memberships__team_id__in=teams
            ).distinct()


class VerdictSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=["met", "missed", "unknown"])
    margin_seconds = serializers.FloatField(
        allow_null=True, help_text="Actual minus target: positive when missed."
    )


class FactsSerializer(serializers.Serializer):
    impact_started_at = serializers.DateTimeField()
    time_to_detect_seconds = serializers.FloatField()
    time_to_acknowledge_seconds = serializers.FloatField(allow_null=True)
    time_to_mitigate_seconds = serializers.FloatField(allow_null=True)
    time_to_recover_seconds = serializers.FloatField(allow_null=True)
    data_loss_seconds = serializers.FloatField(allow_null=True)
    rto = VerdictSerializer()
    rpo = VerdictSerializer()
    downtime_cost = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)


class PostMortemSerializer(serializers.ModelSerializer):
    whys = WhySerializer(many=True, read_only=True)
    factors = FactorSerializer(many=True, read_only=True)
    items = ActionItemSerializer(many=True, read_only=True)
    comments = ReviewCommentSerializer(many=True, read_only=True)
    facts = serializers.SerializerMethodField()
    missing_sections = serializers.SerializerMethodField(
        help_text="What publishing still needs, every item at once; empty when complete."
    )

    class Meta:
        model = PostMortem
        fields = [
            "id",
            "incident",
            "team",
            "status",
            *EDITABLE_FIELDS,
            "facts",
            "whys",
            "factors",
            "items",
            "comments",
            "missing_sections",
            "created_at",
            "published_at",
        ]
        read_only_fields = ["id", "incident", "team", "status", "created_at", "published_at"]
        extra_kwargs = {
            name: {"validators": [validate_markdown]}
            for name in (
                "summary",
                "impact",
                "what_went_well",
                "what_went_wrong",
                "lessons_learned",
            )
        }

    def get_missing_sections(self, postmortem) -> list[str]:
        return services.missing_sections(postmortem)

    @extend_schema_field(FactsSerializer)
    def get_facts(self, postmortem) -> dict:
        """Measured from the incident (postmortems.facts), never typed."""
        facts = measure(postmortem)
        return FactsSerializer(_facts(facts)).data


def _facts(facts) -> dict:
    return {
        "impact_started_at": facts.impact_started_at,
        "time_to_detect_seconds": _seconds(facts.time_to_detect),
        "time_to_acknowledge_seconds": _seconds(facts.time_to_acknowledge),
        "time_to_mitigate_seconds": _seconds(facts.time_to_mitigate),
        "time_to_recover_seconds": _seconds(facts.time_to_recover),
        "data_loss_seconds": _seconds(facts.data_loss),
        "rto": {"verdict": facts.rto.state, "margin_seconds": _seconds(facts.rto.margin)},
        "rpo": {"verdict": facts.rpo.state, "margin_seconds": _seconds(facts.rpo.margin)},
        "downtime_cost": facts.downtime_cost,
    }


class ReturnSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)


class PostMortemFilter(StrictFilterSet):
    status = filters.ChoiceFilter(choices=Status.choices)
    incident = ForeignIdFilter(field_name="incident_id")

    class Meta:
        model = PostMortem
        fields = []


class PostMortemViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Post-mortems of your teams, with their measured facts, 5 Whys, factors and items.

    Responders edit drafts and submit them; in review the document is read-only (409) except
    for reviewer comments; managers return or publish. Submitting and publishing need impact,
    what went wrong, a root cause and an action item or ``no_action_needed`` with a reason; the
    409 names every missing section. The approver is another person than the submitter unless
    the team allows self-approval.
    """

    queryset = PostMortem.objects.select_related("incident__service").prefetch_related(
        "whys", "factors", "items", "comments"
    )
    serializer_class = PostMortemSerializer
    filterset_class = PostMortemFilter
    ordering_fields = ["created_at", "published_at", "id"]
    write_action = Action.RESPOND
    action_permissions = {
        "publish": Action.CONFIGURE,
        "return_to_draft": Action.CONFIGURE,
        "comment": Action.RESPOND,
    }

    def _fresh(self, postmortem) -> Response:
        return Response(PostMortemSerializer(self.get_queryset().get(pk=postmortem.pk)).data)

    def update(self, request, *args, **kwargs):
        postmortem = self.get_object()
        # In review only managers edit: the role depends on the post-mortem's state.
        self.require(postmortem.team_id, services.edit_action(postmortem))
        serializer = self.get_serializer(postmortem, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {
            k: v for k, v in serializer.validated_data.items() if k in services.EDITABLE_FIELDS
        }
        services.update_postmortem(
            postmortem=postmortem, actor=Actor.of_request(request), changes=changes
        )
        return self._fresh(postmortem)

    @extend_schema(request=None, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Draft -> in review."""
        postmortem = self.get_object()
        services.submit_for_review(postmortem=postmortem, actor=Actor.of_request(request))
        return self._fresh(postmortem)

    @extend_schema(request=None, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """In review -> published (managers); 409 naming every missing section, an open
        incident or a self-approval the team does not allow."""
        postmortem = self.get_object()
        services.publish(postmortem=postmortem, actor=Actor.of_request(request))
        return self._fresh(postmortem)

    @extend_schema(request=CommentSerializer, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"], url_path="comments")
    def comment(self, request, pk=None):
        """Add a reviewer comment (draft or in review; 409 once published)."""
        postmortem = self.get_object()
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.add_review_comment(
            postmortem=postmortem, actor=Actor.of_request(request), body=body.validated_data["body"]
        )
        return self._fresh(postmortem)

    @extend_schema(request=ReturnSerializer, responses=PostMortemSerializer)
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_draft(self, request, pk=None):
        """In review -> draft (managers), with a note for the authors."""
        postmortem = self.get_object()
        body = ReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.return_to_draft(
            postmortem=postmortem, actor=Actor.of_request(request), note=body.validated_data["note"]
        )
        return self._fresh(postmortem)


class ActionItemFilter(StrictFilterSet):
    overdue = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_overdue",
        label="true: only overdue items; false: the others",
    )
    status = filters.ChoiceFilter(choices=ItemStatus.choices)
    postmortem = ForeignIdFilter(field_name="postmortem_id")

    class Meta:
        model = ActionItem
        fields = []

    def filter_overdue(self, queryset, name, value):
        overdue = ActionItem.objects.overdue().values("pk")
        if value == "true":
            return queryset.filter(pk__in=overdue)
        return queryset.exclude(pk__in=overdue)


class ActionItemViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Action items of your teams' post-mortems; editable even after publication."""

    queryset = ActionItem.objects.all()
    serializer_class = ActionItemSerializer
    team_field = "postmortem__team_id"
    filterset_class = ActionItemFilter
    ordering_fields = ["due_date", "priority", "id"]
    write_action = Action.RESPOND

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        postmortem = data["postmortem"]
        self.require(postmortem.team_id)
        item = services.add_action_item(
            postmortem=postmortem,
            actor=Actor.of_request(request),
            title=data["title"],
            owner=data.get("owner"),
            due_date=data.get("due_date"),
            priority=data.get("priority", 3),
            link=data.get("link", ""),
        )
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        item = self.get_object()
        serializer = self.get_serializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k != "postmortem"}
        item = services.update_action_item(
            item=item, actor=Actor.of_request(request), changes=changes
        )
        return Response(ActionItemSerializer(item).data)


def register(router) -> None:
    router.register("postmortems", PostMortemViewSet, basename="postmortem")
    router.register("action-items", ActionItemViewSet, basename="action-item")
