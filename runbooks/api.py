"""REST API for runbooks and their runs inside incidents.

Team scoping, roles, pagination and the error shape come from config.api; every write goes
through runbooks.services exactly as the pages' do. Managers edit runbooks; responders tick
steps and run actions.
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import Team
from accounts.permissions import Action
from config.api import ForeignIdFilter, StrictFilterSet, TeamScopedMixin
from incidents.actors import Actor
from incidents.markdown import validate_markdown
from incidents.models import Service
from runbooks import services
from runbooks.models import ActionRun, Runbook, RunbookRun, RunbookStep, StepCheck

MAX_ID = 2**63 - 1


class StepSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    action_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        max_length=200,
        help_text="Signs the action's requests; never returned. Omit or null to keep it.",
    )
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = RunbookStep
        fields = [
            "id",
            "position",
            "title",
            "body",
            "action_url",
            "action_body",
            "action_secret",
            "has_secret",
            "run_automatically",
            "asks_for",
        ]
        read_only_fields = ["position"]
        extra_kwargs = {"body": {"validators": [validate_markdown]}}

    def get_has_secret(self, step) -> bool:
        return bool(step.action_secret)


class RunbookSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, required=False)
    match_labels = serializers.DictField(
        child=serializers.CharField(max_length=200),
        required=False,
        help_text='Label name -> shell-style pattern, e.g. {"alertname": "HighLatency"}.',
    )
    min_severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
    max_severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
    review_interval_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)

    class Meta:
        model = Runbook
        fields = [
            "id",
            "team",
            "title",
            "body",
            "services",
            "match_labels",
            "match_title",
            "match_dedup_key",
            "min_severity",
            "max_severity",
            "is_active",
            "review_interval_days",
            "next_review_at",
            "last_reviewed_at",
            "version",
            "steps",
            "updated_at",
        ]
        read_only_fields = ["id", "next_review_at", "last_reviewed_at", "version", "updated_at"]
        extra_kwargs = {
            "services": {"required": False},
            "body": {"validators": [validate_markdown]},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None and hasattr(view, "visible_team_ids"):
            # Another team's ids read exactly like ids that do not exist.
            teams = view.visible_team_ids()
            self.fields["team"].queryset = Team.objects.filter(pk__in=teams)
            self.fields["services"].child_relation.queryset = Service.objects.filter(
                team_id__in=teams
            )

    def to_input(self, instance: Runbook | None = None) -> services.RunbookInput:
        data = self.validated_data

        def pick(name, default):
            if name in data:
                return data[name]
            return getattr(instance, name) if instance is not None else default

        if "steps" in data or instance is None:
            steps = [
                services.StepInput(
                    id=s.get("id"),
                    title=s["title"],
                    body=s.get("body", ""),
                    action_url=s.get("action_url", ""),
                    action_body=s.get("action_body", ""),
                    action_secret=s.get("action_secret"),
                    run_automatically=s.get("run_automatically", False),
                )
                for s in data.get("steps", [])
            ]
        else:  # steps left out of a PATCH stay as they are (secrets included)
            steps = [
                services.StepInput(
                    id=s.pk,
                    title=s.title,
                    body=s.body,
                    action_url=s.action_url,
                    action_body=s.action_body,
                    run_automatically=s.run_automatically,
                )
                for s in instance.steps.all()
            ]
        if "services" in data:
            service_ids = [s.pk for s in data["services"]]
        else:
            service_ids = [s.pk for s in instance.services.all()] if instance is not None else []
        return services.RunbookInput(
            title=pick("title", ""),
            body=pick("body", ""),
            service_ids=service_ids,
            match_labels=pick("match_labels", {}),
            match_title=pick("match_title", ""),
            match_dedup_key=pick("match_dedup_key", ""),
            min_severity=pick("min_severity", 1),
            max_severity=pick("max_severity", 5),
            is_active=pick("is_active", True),
            review_interval_days=pick("review_interval_days", 90),
            steps=steps,
        )


class RunbookFilter(StrictFilterSet):
    active = filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_active",
        label="true: only active runbooks; false: only retired ones",
    )

    class Meta:
        model = Runbook
        fields = []

    def filter_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "true")


class RunbookViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Runbooks of your teams. Reads for members; writes and reviews for managers."""

    queryset = Runbook.objects.prefetch_related("steps", "services")
    serializer_class = RunbookSerializer
    filterset_class = RunbookFilter
    ordering_fields = ["title", "next_review_at", "id"]
    write_action = Action.CONFIGURE

    def _fresh(self, runbook: Runbook) -> dict:
        return RunbookSerializer(
            self.get_queryset().get(pk=runbook.pk), context=self.get_serializer_context()
        ).data

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = serializer.validated_data["team"]
        self.require(team.pk)
        runbook = services.create_runbook(
            team=team, data=serializer.to_input(), actor=Actor.of_request(request)
        )
        return Response(self._fresh(runbook), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        runbook = self.get_object()  # 404 for other teams; require() for the role
        serializer = self.get_serializer(
            runbook, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("team", runbook.team) != runbook.team:
            raise serializers.ValidationError({"team": ["A runbook cannot move to another team."]})
        services.update_runbook(
            runbook=runbook, data=serializer.to_input(runbook), actor=Actor.of_request(request)
        )
        return Response(self._fresh(runbook))

    @extend_schema(request=None, responses=RunbookSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Record the periodic review: the runbook still holds; the next review is due later."""
        runbook = self.get_object()
        services.mark_reviewed(runbook=runbook, actor=Actor.of_request(request))
        return Response(self._fresh(runbook))


class CheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepCheck
        fields = ["step", "checked_at", "checked_by"]


class ActionRunSerializer(serializers.ModelSerializer):
    # A plain string in the schema: an enum named "state" collides with the probes' states.
    state = serializers.CharField(read_only=True, help_text="pending, running, succeeded or failed")

    class Meta:
        model = ActionRun
        fields = [
            "id",
            "step",
            "state",
            "automatic",
            "requested_at",
            "requested_by",
            "finished_at",
            "response_status",
            "error",
        ]


class RunbookRunSerializer(serializers.ModelSerializer):
    checks = CheckSerializer(many=True, read_only=True)
    action_runs = ActionRunSerializer(many=True, read_only=True)

    class Meta:
        model = RunbookRun
        fields = ["id", "incident", "runbook", "reason", "attached_at", "checks", "action_runs"]


class StepRequestSerializer(serializers.Serializer):
    step = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    done = serializers.BooleanField(default=True, help_text="false unticks the step")


class RunbookRunFilter(StrictFilterSet):
    incident = ForeignIdFilter(field_name="incident_id")
    runbook = ForeignIdFilter(field_name="runbook_id")

    class Meta:
        model = RunbookRun
        fields = []


class RunbookRunViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Runbooks attached to your teams' incidents, with ticks and action results."""

    queryset = RunbookRun.objects.select_related("incident").prefetch_related(
        "checks", "action_runs"
    )
    serializer_class = RunbookRunSerializer
    team_field = "incident__team_id"
    filterset_class = RunbookRunFilter
    ordering_fields = ["attached_at", "id"]
    write_action = Action.RESPOND

    def _step(self, request) -> tuple[RunbookRun, dict]:
        run = self.get_object()
        body = StepRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return run, body.validated_data

    @extend_schema(request=StepRequestSerializer, responses=RunbookRunSerializer)
    @action(detail=True, methods=["post"])
    def tick(self, request, pk=None):
        """Tick a step off (or untick it with done=false); the timeline records it."""
        run, data = self._step(request)
        if data["done"]:
            services.tick_step(run=run, step=data["step"], actor=Actor.of_request(request))
        else:
            services.untick_step(run=run, step=data["step"], actor=Actor.of_request(request))
        return Response(RunbookRunSerializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(request=StepRequestSerializer, responses={202: ActionRunSerializer})
    @action(detail=True, methods=["post"], url_path="run-action")
    def run_action(self, request, pk=None):
        """Queue the step's automated action; 409 while one is still running."""
        run, data = self._step(request)
        action_run = services.request_action(
            run=run, step=data["step"], actor=Actor.of_request(request)
        )
        return Response(ActionRunSerializer(action_run).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("runbooks", RunbookViewSet, basename="runbook")
    router.register("runbook-runs", RunbookRunViewSet, basename="runbook-run")
