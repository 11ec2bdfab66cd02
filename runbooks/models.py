from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team
from incidents.models import Incident, Service

DEFAULT_REVIEW_INTERVAL_DAYS = 90


class RunbookQuerySet(models.QuerySet):
    def visible_to(self, user) -> RunbookQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))

    def review_overdue(self, now=None) -> RunbookQuerySet:
        return self.filter(is_active=True, next_review_at__lt=now or timezone.now())


class Runbook(models.Model):
    """A written procedure for one kind of trouble, with ordered steps and a matcher.

    The matcher decides which incidents the runbook attaches to when they open: the services it
    covers, a severity range, shell-style patterns on the incident title and dedup key, and
    label matchers (``alertname=HighLatency``). Every given part must match; a runbook without
    any service, label, title or key matcher never attaches on its own (it would match every
    incident), but can always be attached by hand.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runbooks")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown.")
    services = models.ManyToManyField(Service, blank=True, related_name="runbooks")
    match_labels = models.JSONField(
        default=dict,
        blank=True,
        help_text='Label name -> shell-style pattern, e.g. {"alertname": "HighLatency"}.',
    )
    match_title = models.CharField(
        max_length=200, blank=True, help_text="Shell-style pattern, e.g. *latency*."
    )
    match_dedup_key = models.CharField(max_length=200, blank=True)
    min_severity = models.PositiveSmallIntegerField(default=1)
    max_severity = models.PositiveSmallIntegerField(default=5)
    is_active = models.BooleanField(default=True)

    review_interval_days = models.PositiveIntegerField(default=DEFAULT_REVIEW_INTERVAL_DAYS)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised from last review (or creation) + interval, so the overdue list is one query.
    next_review_at = models.DateTimeField(db_index=True)

    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept current by the editing services (runbooks.search); GIN-indexed on PostgreSQL.
    search_document = SearchVectorField(null=True, editable=False)

    objects = RunbookQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_severity__gte=1, max_severity__lte=5)
                & Q(min_severity__lte=models.F("max_severity")),
                name="runbook_severity_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_interval_days__gte=1), name="runbook_review_interval_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def has_matcher(self) -> bool:
        return bool(
            self.match_labels or self.match_title or self.match_dedup_key or self.service_ids
        )

    @property
    def service_ids(self) -> list[int]:
        # Prefetched by the matcher; falls back to a query.
        return [s.pk for s in self.services.all()]

    def review_due_from(self, reviewed_at: datetime) -> datetime:
        return reviewed_at + timedelta(days=self.review_interval_days)

    @property
    def is_review_overdue(self) -> bool:
        return self.is_active and self.next_review_at < timezone.now()

    def matcher_text(self) -> str:
        lines = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        return "\n".join(lines)


class RunbookStep(models.Model):
    """One step of a runbook. It may carry an automated action: a signed JSON POST."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Markdown.")
    action_url = models.URLField(blank=True, max_length=500)
    action_body = models.TextField(
        blank=True,
        help_text="JSON; strings may use {{ incident.title }}, {{ incident.reference }}, "
        "{{ incident.severity }}, {{ service.slug }}, {{ labels.alertname }} ...",
    )
    # Kept to sign requests; never shown again after it is saved.
    action_secret = models.CharField(max_length=200, blank=True)
    run_automatically = models.BooleanField(
        default=False, help_text="Run the action as soon as the runbook attaches (escalation L1)."
    )
    # A step may ask for something another app offers in the incident room; the room's panel
    # of that app does it (e.g. "status_update": the status page panel posts a public update).
    asks_for = models.CharField(
        max_length=32,
        blank=True,
        choices=[("", "nothing"), ("status_update", "a public status update")],
        help_text="What this step asks the responder to do in the room.",
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def has_action(self) -> bool:
        return bool(self.action_url)


class RunbookRevision(models.Model):
    """A snapshot of a runbook after each save, so any two versions can be compared."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    content = models.TextField(help_text="The whole runbook as text, for diffs.")

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["runbook", "number"], name="runbook_revision_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook} r{self.number}"


class AttachReason(models.TextChoices):
    MATCHED = "matched", "matched automatically"
    MANUAL = "manual", "attached by hand"


class RunbookRun(models.Model):
    """A runbook followed during one incident: the checklist responders tick off."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="runbook_runs")
    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="runs")
    reason = models.CharField(max_length=16, choices=AttachReason.choices)
    attached_at = models.DateTimeField(default=timezone.now)
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["attached_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "runbook"], name="runbook_run_one_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook} for {self.incident.reference}"


class StepCheck(models.Model):
    """A ticked step: who and when. Unticking deletes the row (the timeline keeps both)."""

    run = models.ForeignKey(RunbookRun, on_delete=models.CASCADE, related_name="checks")
    step = models.ForeignKey(RunbookStep, on_delete=models.CASCADE, related_name="checks")
    checked_at = models.DateTimeField(default=timezone.now)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "step"], name="step_check_one_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.step} done by {self.checked_by}"


class ActionState(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


ACTIVE_ACTION_STATES = (ActionState.PENDING, ActionState.RUNNING)


class ActionRun(models.Model):
    """One execution of a step's automated action. The worker claims it pending -> running."""

    run = models.ForeignKey(RunbookRun, on_delete=models.CASCADE, related_name="action_runs")
    step = models.ForeignKey(RunbookStep, on_delete=models.CASCADE, related_name="action_runs")
    state = models.CharField(
        max_length=16, choices=ActionState.choices, default=ActionState.PENDING
    )
    automatic = models.BooleanField(default=False)
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # A double click or a second worker never sends the same action twice at once.
            models.UniqueConstraint(
                fields=["run", "step"],
                condition=Q(state__in=["pending", "running"]),
                name="action_run_one_active_per_step",
            )
        ]
        indexes = [models.Index(fields=["state", "requested_at"], name="action_run_state_idx")]

    def __str__(self) -> str:
        return f"{self.step} ({self.state})"
