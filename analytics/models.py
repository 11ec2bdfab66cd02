"""Impact assessments: the inputs of an objective score, the severity it suggested, and what
the responders decided. One row per assessment; the incident's timeline tells the story."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from incidents.models import Incident


class Decision(models.TextChoices):
    PENDING = "pending", "pending"
    ACCEPTED = "accepted", "accepted"
    OVERRIDDEN = "overridden", "overridden"
    SUPERSEDED = "superseded", "superseded"


class ImpactAssessment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="assessments")
    users_affected_percent = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    revenue_per_hour = models.DecimalField(max_digits=12, decimal_places=2)
    data_loss = models.BooleanField(default=False)
    failover_tier = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(3)])
    duration_seconds = models.PositiveIntegerField()
    customer_facing = models.BooleanField(default=True)
    points = models.PositiveSmallIntegerField()
    suggested_severity = models.PositiveSmallIntegerField()
    severity_at_assessment = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(users_affected_percent__lte=100), name="assessment_users_0_to_100"
            ),
            models.CheckConstraint(condition=Q(failover_tier__lte=3), name="assessment_tier_0_3"),
            models.CheckConstraint(
                condition=Q(suggested_severity__gte=1, suggested_severity__lte=5),
                name="assessment_severity_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(decision__in=[d.value for d in Decision]),
                name="assessment_decision_valid",
            ),
            # At most one suggestion waits for a decision per incident.
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(decision="pending"),
                name="assessment_one_pending_per_incident",
            ),
        ]
        indexes = [models.Index(fields=["incident", "-created_at"], name="assessment_incident_idx")]

    def __str__(self) -> str:
        return (
            f"{self.incident.reference}: {self.points} points -> severity {self.suggested_severity}"
        )


class IncidentSignal(models.Model):
    """The first failing signal of a resolved incident, computed once (``analytics.signals``).

    MTTD needs, per incident, the earliest alert ``startsAt``, the first failing probe result
    after the last good one, or the heartbeat's missed due time: index lookups that dominated
    the report. Once an incident is resolved those inputs no longer change, so the value is
    stored when it resolves, for the resolution it was computed for (``resolved_at``): a
    reopened incident no longer matches and is measured live until it resolves again.
    """

    incident = models.OneToOneField(
        Incident, primary_key=True, on_delete=models.CASCADE, related_name="analytics_signal"
    )
    # Seconds since 1970, exactly the float the report's SQL computes (so a stored value and a
    # live one give the same MTTD); NULL: no signal (declared by hand, no failing result).
    first_signal_epoch = models.FloatField(null=True, blank=True)
    resolved_at = models.DateTimeField()
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"signal of incident {self.incident_id}: {self.first_signal_epoch}"
