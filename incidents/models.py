from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils.translation import gettext_lazy as _

from accounts.actors import ActorKind  # noqa: F401  (re-exported: incidents.models.ActorKind)
from accounts.models import Team


class Severity(models.IntegerChoices):
    MINOR = 1, "minor impairment"
    DEGRADED = 2, "degraded for some users"
    SIGNIFICANT = 3, "significant degradation"
    MAJOR = 4, "major feature down"
    OUTAGE = 5, "complete outage"


# The short word shown beside every severity number ("5 · outage"; see templatetags/severity).
SEVERITY_WORDS = {
    Severity.MINOR: _("minor"),
    Severity.DEGRADED: _("degraded"),
    Severity.SIGNIFICANT: _("significant"),
    Severity.MAJOR: _("major"),
    Severity.OUTAGE: _("outage"),
}


class Status(models.TextChoices):
    TRIGGERED = "triggered", "triggered"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    MITIGATED = "mitigated", "mitigated"
    RESOLVED = "resolved", "resolved"


OPEN_STATUSES = (Status.TRIGGERED, Status.ACKNOWLEDGED, Status.MITIGATED)


def attention_rank() -> Case:
    """How urgently a status asks for a person: triggered 0, acknowledged 1, mitigated 2, else 3.

    The board's default order ("needs attention") sorts on it, and an index of the same
    expression serves that order; the two must stay the same expression for the index to apply.
    """
    return Case(
        When(status=Status.TRIGGERED, then=Value(0)),
        When(status=Status.ACKNOWLEDGED, then=Value(1)),
        When(status=Status.MITIGATED, then=Value(2)),
        default=Value(3),
        output_field=models.SmallIntegerField(),
    )


class Source(models.TextChoices):
    MANUAL = "manual", "manual"
    INTEGRATION = "integration", "integration"
    PROBE = "probe", "probe"
    SYSTEM = "system", "system"


class ServiceQuerySet(models.QuerySet):
    def visible_to(self, user) -> ServiceQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))

    def active(self) -> ServiceQuerySet:
        return self.filter(archived_at__isnull=True)


class Service(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    rto_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Recovery time objective: longest acceptable outage."
    )
    rpo_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Recovery point objective: largest acceptable data-loss window.",
    )
    downtime_cost_per_hour = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        help_text="Estimated cost of one hour of outage.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Archived services open no incidents: archiving switches off every source (see
    # incidents.catalog.archive_service) and declaring on them is refused.
    archived_at = models.DateTimeField(null=True, blank=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="service_name_unique_in_team"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class IncidentQuerySet(models.QuerySet):
    def open(self) -> IncidentQuerySet:
        return self.exclude(status=Status.RESOLVED)

    def visible_to(self, user) -> IncidentQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))


class Incident(models.Model):
    """One incident. Its number (INC-<id>) is global, so a link names exactly one incident.

    Every change of state goes through incidents.services, which locks the row, validates the
    transition and writes the timeline entry in the same transaction.
    """

    # Denormalised from service.team: every list filters by team, and an index on it is cheap.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="incidents")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=255)
    summary = models.TextField(blank=True)
    severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.SIGNIFICANT
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRIGGERED)
    dedup_key = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    is_drill = models.BooleanField(default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_incidents",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    triggered_at = models.DateTimeField(db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution_note = models.TextField(blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # Repeats of the same dedup_key while open (alerts firing again, probes still failing).
    repeat_count = models.PositiveIntegerField(default=0)
    last_seen_at = models.DateTimeField()
    # Bumped on every change: the board polls "anything newer than X?" through its index.
    updated_at = models.DateTimeField(db_index=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-triggered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "dedup_key"],
                condition=~Q(status="resolved") & ~Q(dedup_key=""),
                name="incident_one_open_per_dedup_key",
            ),
            models.CheckConstraint(
                condition=Q(severity__gte=1, severity__lte=5), name="incident_severity_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="incident_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="incident_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["team", "status", "-triggered_at"], name="incident_team_status_idx"
            ),
            # The board sorted by severity across all statuses reads this, not the whole team.
            models.Index(
                fields=["team", "-severity", "-triggered_at"], name="incident_team_severity_idx"
            ),
            # The default board order ("needs attention") of the open incidents, read in order.
            models.Index(
                F("team"),
                attention_rank(),
                F("severity").desc(),
                F("triggered_at"),
                F("id"),
                name="incident_team_attention_idx",
                condition=Q(status__in=OPEN_STATUSES),
            ),
            # Board search matches the title (trigram index) or the exact dedup key: without an
            # index on the key, the OR made PostgreSQL read every incident of the team.
            models.Index(
                fields=["dedup_key"], name="incident_dedup_key_idx", condition=~Q(dedup_key="")
            ),
            # Analytics' downtime: incidents still open or resolved after a range's start.
            models.Index(fields=["team", "resolved_at"], name="incident_team_resolved_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        return f"INC-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status != Status.RESOLVED


class TimelineEntry(models.Model):
    """Append-only: rows are inserted, never updated (PostgreSQL enforces it with a trigger)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=40)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["incident", "-at", "-id"], name="timeline_incident_at_idx")]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind}: {self.message}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("timeline entries are append-only")
        super().save(*args, **kwargs)

    @property
    def actor_name(self) -> str:
        if self.actor_user_id and self.actor_user:
            return str(self.actor_user)
        return self.actor_label or self.actor_kind


# --- alert ingestion ----------------------------------------------------------------------


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana Alerting"
    PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
    GENERIC = "generic", "generic JSON webhook"


class Integration(models.Model):
    """A sender of alerts (one Alertmanager receiver, one Grafana contact point, ...).

    The secret token is shown once at creation; only its first characters (for lookup) and its
    SHA-256 (compared in constant time) are stored. Tokens carry 128 bits of randomness, so a
    fast hash is enough: there is nothing to brute-force.
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=16, choices=IntegrationKind.choices)
    name = models.CharField(max_length=120)
    token_prefix = models.CharField(max_length=8, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # After a rotation the previous token keeps working until this time, so senders can be
    # reconfigured without losing alerts; empty when there is no previous token.
    previous_token_prefix = models.CharField(
        max_length=8, blank=True, db_index=True, editable=False
    )
    previous_token_hash = models.CharField(max_length=64, blank=True, editable=False)
    previous_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    hmac_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text="Grafana: shared secret of the contact point's HMAC signature; empty = no check.",
    )
    signature_header = models.CharField(max_length=100, default="X-Grafana-Alerting-Signature")
    timestamp_header = models.CharField(
        max_length=100,
        blank=True,
        default="X-Grafana-Alerting-Timestamp",
        help_text="Header carrying the signed Unix timestamp (checked within +-300 s); "
        "empty = Grafana signs the body alone.",
    )
    severity_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Overrides of the word -> severity map, e.g. {"page": 5, "warning": 3}.',
    )
    default_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.SIGNIFICANT
    )
    auto_resolve = models.BooleanField(
        default=True, help_text="Resolve the incident when all of its alerts have resolved."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Deliveries per minute; empty = the site default."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["service", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="integration_name_unique"),
            models.CheckConstraint(
                condition=Q(default_severity__gte=1, default_severity__lte=5),
                name="integration_default_severity_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "firing"
    RESOLVED = "resolved", "resolved"


class Alert(models.Model):
    """One alert behind an incident, identified by its fingerprint (or PagerDuty dedup_key)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=AlertStatus.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    summary = models.CharField(max_length=1024, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    source_url = models.CharField(max_length=2048, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["first_seen_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "fingerprint"], name="alert_one_per_fingerprint_in_incident"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["firing", "resolved"]), name="alert_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["incident", "status"], name="alert_incident_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.status})"


class InboundEventQuerySet(models.QuerySet):
    def pending(self) -> InboundEventQuerySet:
        return self.filter(processed_at__isnull=True)

    def parked(self) -> InboundEventQuerySet:
        return self.filter(parked_at__isnull=False)


class InboundEvent(models.Model):
    """One accepted delivery: its raw body (capped) and the validated form the processor applies.

    The row is committed before the sender gets its 2xx; ``processed_at`` stays empty until the
    alerts and incidents it describes exist, so a sweep can always finish what was accepted.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="events")
    received_at = models.DateTimeField()
    raw_body = models.TextField(blank=True)
    raw_truncated = models.BooleanField(default=False)
    normalized = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set when applying failed MAX_ATTEMPTS times: the delivery is kept for a human (admin,
    # /metrics) and what could be read of it was applied instead (see ingest.applying.salvage).
    parked_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set at acceptance when the delivery fires a group this web process has not seen lately:
    # it probably opens an incident, so workers claim it before the repeats queued ahead of it.
    # Only an ordering hint; a wrong guess costs a place in the queue, never a delivery.
    urgent = models.BooleanField(default=False)

    objects = InboundEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(processed_at__isnull=True),
                name="inbound_event_pending_idx",
            ),
            models.Index(
                fields=["id"],
                condition=Q(processed_at__isnull=True, urgent=True),
                name="inbound_event_urgent_idx",
            ),
            models.Index(fields=["integration", "-received_at"], name="inbound_event_recent_idx"),
            models.Index(
                fields=["id"],
                condition=Q(parked_at__isnull=False),
                name="inbound_event_parked_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"event {self.pk} from {self.integration_id}"


# --- domain event outbox ------------------------------------------------------------------


class EventDispatch(models.Model):
    """One announced domain event for one receiver: the outbox row beside its timeline entry.

    Written in the transaction that writes the timeline entry, so an event exists exactly when
    the change it announces committed. The timeline stays append-only (PostgreSQL's trigger);
    the dispatch state lives here, one row per receiver, so a receiver that keeps failing
    backs off alone and never holds up the others. ``dispatched_at`` is set in the receiver's
    own transaction, so a receiver's database effects and "done" commit together.
    """

    entry = models.ForeignKey(
        TimelineEntry,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dispatches",
    )
    event = models.CharField(max_length=64)
    receiver = models.CharField(max_length=255)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "event", "receiver"], name="event_dispatch_once_per_receiver"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(dispatched_at__isnull=True),
                name="event_dispatch_pending_idx",
            ),
            models.Index(
                fields=["dispatched_at"],
                condition=Q(dispatched_at__isnull=False),
                name="event_dispatch_done_idx",
            ),
        ]

    def __str__(self) -> str:
        state = "dispatched" if self.dispatched_at else f"pending ({self.attempts} attempts)"
        return f"{self.event} → {self.receiver}: {state}"


# --- the incident room: merges, links, snoozes --------------------------------------------


class IncidentMerge(models.Model):
    """A duplicate folded into another incident (incidents.merging.merge_incidents).

    One row per merged incident (one-to-one): an incident is merged at most once, after which
    it is resolved and its alerts, notes and timeline live on in ``target``.
    """

    source = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="merged_into")
    target = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="merged_from")
    merged_at = models.DateTimeField()
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    alerts_moved = models.PositiveIntegerField(default=0)
    entries_copied = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="incident_merge_not_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"INC-{self.source_id} merged into INC-{self.target_id}"


class DedupAlias(models.Model):
    """The dedup key of a merged incident, pointing at the incident it was merged into.

    While ``incident`` is open, alerts and repeats for (service, dedup_key) land on it instead
    of opening a new incident; once it is resolved the alias is ignored and the key opens a new
    incident as usual. ``fingerprints`` are the alerts moved with the key (a sender's
    "resolve" for the key resolves those, not the whole incident).
    """

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    dedup_key = models.CharField(max_length=255)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="dedup_aliases")
    fingerprints = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "dedup_key"], name="dedup_alias_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} → INC-{self.incident_id}"


class IncidentLink(models.Model):
    """Two related incidents (not duplicates). Symmetric: stored once, lower id first."""

    first = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="incident_link_once"),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="incident_link_ordered"
            ),
        ]
        indexes = [models.Index(fields=["second"], name="incident_link_second_idx")]

    def __str__(self) -> str:
        return f"INC-{self.first_id} ↔ INC-{self.second_id}"


class IncidentSnooze(models.Model):
    """An acknowledged incident snoozed until ``until`` (incidents.snooze).

    ``until`` is the due time the beat sweep reads; it is set to None when the snooze ends
    (expired, cancelled, or the incident moved on), which is also how a wake-up is claimed:
    only the caller whose conditional UPDATE cleared it re-triggers the incident.
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="snooze")
    until = models.DateTimeField(null=True, blank=True)
    minutes = models.PositiveIntegerField(default=0)
    snoozed_at = models.DateTimeField()
    snoozed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["until"], condition=Q(until__isnull=False), name="incident_snooze_due_idx"
            )
        ]

    def __str__(self) -> str:
        return f"INC-{self.incident_id} snoozed until {self.until}"
