"""Game days: failure injected on purpose into Vigil's own engine, and what the response was.

A drill names a scenario and its target (a probe, a heartbeat or a recorded alert of one of the
team's services), when it starts and how long it lasts. While it runs, the probe engine reports
the injected result instead of the real one (``monitoring.injection``); the incident that
follows is flagged ``is_drill`` and goes through the real escalation path with a DRILL marker.
The database keeps one running drill per probe and per heartbeat.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Team
from incidents.models import Alert, Incident, Service
from monitoring.models import Heartbeat, Probe

MAX_DURATION_MINUTES = 24 * 60
MAX_LATENCY_MS = 600_000


class Scenario(models.TextChoices):
    PROBE_DOWN = "probe_down", "a probe made to fail"
    PROBE_LATENCY = "probe_latency", "latency injected into a probe"
    HEARTBEAT_SILENT = "heartbeat_silent", "a heartbeat made silent"
    ALERT_REPLAY = "alert_replay", "a recorded alert replayed"


PROBE_SCENARIOS = (Scenario.PROBE_DOWN, Scenario.PROBE_LATENCY)


class DrillStatus(models.TextChoices):
    SCHEDULED = "scheduled", "scheduled"
    RUNNING = "running", "running"
    FINISHED = "finished", "finished"
    ABORTED = "aborted", "aborted"


class DrillQuerySet(models.QuerySet):
    def visible_to(self, user) -> DrillQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))

    def running(self) -> DrillQuerySet:
        return self.filter(status=DrillStatus.RUNNING)


class Drill(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="drills")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="drills")
    name = models.CharField(max_length=200)
    scenario = models.CharField(max_length=20, choices=Scenario.choices)
    probe = models.ForeignKey(
        Probe, null=True, blank=True, on_delete=models.CASCADE, related_name="drills"
    )
    heartbeat = models.ForeignKey(
        Heartbeat, null=True, blank=True, on_delete=models.CASCADE, related_name="drills"
    )
    alert = models.ForeignKey(
        Alert,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The recorded alert to replay.",
    )
    latency_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_LATENCY_MS)],
        help_text="Latency added to each probe answer (latency scenario).",
    )
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    # Targets the response is measured against; empty = derived (see drills.report).
    detect_target_seconds = models.PositiveIntegerField(null=True, blank=True)
    ack_target_seconds = models.PositiveIntegerField(null=True, blank=True)
    recover_target_seconds = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(
        max_length=16, choices=DrillStatus.choices, default=DrillStatus.SCHEDULED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    findings = models.TextField(
        blank=True, help_text="What went wrong, one finding per line (can become action items)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DrillQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["probe"],
                condition=Q(status="running") & Q(probe__isnull=False),
                name="drill_one_running_per_probe",
            ),
            models.UniqueConstraint(
                fields=["heartbeat"],
                condition=Q(status="running") & Q(heartbeat__isnull=False),
                name="drill_one_running_per_heartbeat",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DrillStatus]), name="drill_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1, duration_minutes__lte=MAX_DURATION_MINUTES),
                name="drill_duration_1min_to_1day",
            ),
            models.CheckConstraint(
                condition=~Q(scenario__in=PROBE_SCENARIOS) | Q(probe__isnull=False),
                name="drill_probe_scenario_has_probe",
            ),
            models.CheckConstraint(
                condition=~Q(scenario="heartbeat_silent") | Q(heartbeat__isnull=False),
                name="drill_heartbeat_scenario_has_heartbeat",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "starts_at"], name="drill_status_start_idx"),
            models.Index(fields=["team", "-starts_at"], name="drill_team_start_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ends_at(self):
        start = self.started_at or self.starts_at
        return start + timedelta(minutes=self.duration_minutes)

    @property
    def is_active(self) -> bool:
        return self.status in (DrillStatus.SCHEDULED, DrillStatus.RUNNING)

    @property
    def target_label(self) -> str:
        if self.probe_id:
            return f"probe {self.probe}"
        if self.heartbeat_id:
            return f"heartbeat {self.heartbeat}"
        if self.alert_id:
            return f"alert {self.alert.summary or self.alert.fingerprint}"
        return ""
