"""REST API for runbooks: team-scoped reads, writes through the same services as the pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.models import Team
from accounts.permissions import Action, can, team_ids_of
from incidents.models import Service
from runbooks import services
from runbooks.models import ActionRun, Runbook, RunbookRun, RunbookStep, StepCheck


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50


def _require(user, team_id: int, needed: Action) -> None:
    if not can(user, team_id, needed):
        raise PermissionDenied(
            f"your role in this team does not allow this ({needed.name.lower()})"
        )


class StepSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(required=False)
    action_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, allow_null=True, default=None
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
        ]
        read_only_fields = ["position"]

    def get_has_secret(self, step) -> bool:
        return bool(step.action_secret)


class RunbookSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, required=False)
    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())

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
        read_only_fields = ["next_review_at", "last_reviewed_at", "version", "updated_at"]
        extra_kwargs = {"services": {"required": False}}

    def validate_match_labels(self, value):
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValidationError("match_labels must be an object of label name to pattern")
        return value

    def to_input(self, instance: Runbook | None = None) -> services.RunbookInput:
        data = self.validated_data
        current = RunbookSerializer(instance).data if instance is not None else {}

        def pick(name, default):
            return data.get(name, current.get(name, default))

        steps = data.get("steps")
        if steps is None and instance is not None:
            step_inputs = [
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
        else:
            step_inputs = [
                services.StepInput(
                    id=s.get("id"),
                    title=s["title"],
                    body=s.get("body", ""),
                    action_url=s.get("action_url", ""),
                    action_body=s.get("action_body", ""),
                    action_secret=s.get("action_secret"),
                    run_automatically=s.get("run_automatically", False),
                )
                for s in steps or []
            ]
        service_ids = (
            [s.pk for s in data["services"]]
            if "services" in data
            else list(current.get("services", []))
        )
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
            steps=step_inputs,
        )


class RunbookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RunbookSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        return Runbook.objects.filter(team_id__in=team_ids_of(self.request.user)).prefetch_related(
            "steps", "services"
        )

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        if not isinstance(serializer, RunbookSerializer):
            return serializer
        teams = team_ids_of(self.request.user)
        serializer.fields["team"].queryset = Team.objects.filter(pk__in=teams)
        serializer.fields["services"].child_relation.queryset = Service.objects.filter(
            team_id__in=teams
        )
        return serializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        team = serializer.validated_data["team"]
        if team.pk not in team_ids_of(request.user):
            raise ValidationError({"team": "no such team"})
        _require(request.user, team.pk, Action.CONFIGURE)
        try:
            runbook = services.create_runbook(
                team=team, data=serializer.to_input(), by=request.user, request=request
            )
        except services.RunbookError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(
            RunbookSerializer(self.get_queryset().get(pk=runbook.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    def update(self, request, *args, **kwargs):
        runbook = self.get_object()
        _require(request.user, runbook.team_id, Action.CONFIGURE)
        serializer = self.get_serializer(
            runbook, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data.get("team", runbook.team) != runbook.team:
            raise ValidationError({"team": "a runbook cannot move to another team"})
        try:
            services.update_runbook(
                runbook=runbook, data=serializer.to_input(runbook), by=request.user, request=request
            )
        except services.RunbookError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response(RunbookSerializer(self.get_queryset().get(pk=runbook.pk)).data)

    @extend_schema(request=None, responses=RunbookSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        runbook = self.get_object()
        _require(request.user, runbook.team_id, Action.CONFIGURE)
        services.mark_reviewed(runbook=runbook, by=request.user, request=request)
        return Response(RunbookSerializer(self.get_queryset().get(pk=runbook.pk)).data)


class CheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepCheck
        fields = ["step", "checked_at", "checked_by"]


class ActionRunSerializer(serializers.ModelSerializer):
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
    step = serializers.IntegerField()
    done = serializers.BooleanField(default=True)


class RunbookRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runbooks attached to incidents; filter with ``?incident=<id>``."""

    serializer_class = RunbookRunSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self):
        runs = RunbookRun.objects.filter(
            incident__team_id__in=team_ids_of(self.request.user)
        ).prefetch_related("checks", "action_runs")
        incident = self.request.query_params.get("incident")
        if incident:
            if not incident.isdigit():
                raise ValidationError({"incident": "must be an incident number"})
            runs = runs.filter(incident_id=int(incident))
        return runs

    def _step_request(self, request):
        run = self.get_object()
        _require(request.user, run.incident.team_id, Action.RESPOND)
        body = StepRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return run, body.validated_data

    @extend_schema(request=StepRequestSerializer, responses=RunbookRunSerializer)
    @action(detail=True, methods=["post"])
    def tick(self, request, pk=None):
        run, data = self._step_request(request)
        try:
            if data["done"]:
                services.tick_step(run=run, step=data["step"], by=request.user)
            else:
                services.untick_step(run=run, step=data["step"], by=request.user)
        except services.RunbookError as exc:
            raise ValidationError({"step": str(exc)}) from None
        return Response(RunbookRunSerializer(self.get_queryset().get(pk=run.pk)).data)

    @extend_schema(request=StepRequestSerializer, responses=ActionRunSerializer)
    @action(detail=True, methods=["post"], url_path="run-action")
    def run_action(self, request, pk=None):
        run, data = self._step_request(request)
        try:
            action_run = services.request_action(run=run, step=data["step"], by=request.user)
        except services.RunbookError as exc:
            code = status.HTTP_409_CONFLICT if "already running" in str(exc) else 400
            return Response({"detail": str(exc)}, status=code)
        return Response(ActionRunSerializer(action_run).data, status=status.HTTP_202_ACCEPTED)


def register(router) -> None:
    router.register("runbooks", RunbookViewSet, basename="runbook")
    router.register("runbook-runs", RunbookRunViewSet, basename="runbook-run")
