"""Probes, push heartbeats and what they observed.

A probe is due when ``next_due_at <= now``; the scheduler claims due probes by moving
``next_due_at`` forward in the same conditional UPDATE that selects them, so no probe runs twice
per interval however many schedulers race. A heartbeat is overdue when ``alert_after < now``; every
success ping pushes ``alert_after`` forward in the same statement that records the ping.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Service, Severity

MIN_INTERVAL_SECONDS = 10


class ProbeState(models.TextChoices):
    NEW = "new", "new"
    UP = "up", "up"
    DEGRADED = "degraded", "degraded"
    DOWN = "down", "down"
    PAUSED = "paused", "paused"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    HEAD = "HEAD", "HEAD"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"
    OPTIONS = "OPTIONS", "OPTIONS"


class ErrorCategory(models.TextChoices):
    NONE = "", "none"
    TIMEOUT = "timeout", "timeout"
    REFUSED = "refused", "connection refused"
    DNS = "dns", "DNS"
    TLS = "tls", "TLS"
    CONNECTION = "connection", "connection error"
    BLOCKED = "blocked", "refused by SSRF guard"
    STATUS = "status", "status mismatch"
    CONTENT = "content", "content mismatch"
    SLOW = "slow", "slow"
    INVALID = "invalid", "invalid request"


def parse_expected_status(spec: str) -> list[tuple[int, int]]:
    """``"200-299,304"`` -> ``[(200, 299), (304, 304)]``; raises ValueError naming the bad part."""
    ranges = []
    for part in (spec or "").replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{part!r} is not a status code or a range like 200-299") from None
        if not (100 <= lo <= hi <= 599):
            raise ValueError(f"{part!r} is not within 100-599 with low <= high")
        ranges.append((lo, hi))
    if not ranges:
        raise ValueError("expected status must name at least one code, e.g. 200-299")
    return ranges


def validate_expected_status(value: str) -> None:
    try:
        parse_expected_status(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def validate_headers(value) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError('headers must be an object of strings, e.g. {"Accept": "text/plain"}')


class ProbeQuerySet(models.QuerySet):
    def visible_to(self, user) -> ProbeQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(service__team_id__in=team_ids_of(user))


class Probe(models.Model):
    # The unique (service, name) index serves lookups by service: no second index to maintain.
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="probes", db_index=False
    )
    name = models.CharField(max_length=120)
    method = models.CharField(max_length=8, choices=HttpMethod.choices, default=HttpMethod.GET)
    url = models.URLField(max_length=2000)
    headers = models.JSONField(default=dict, blank=True, validators=[validate_headers])
    body = models.TextField(blank=True)
    expected_status = models.CharField(
        max_length=100,
        default="200-299",
        validators=[validate_expected_status],
        help_text="Codes or ranges, comma separated: 200-299,304.",
    )
    expected_text = models.CharField(
        max_length=500, blank=True, help_text="The body must contain this text."
    )
    expected_json_path = models.CharField(
        max_length=200, blank=True, help_text="Dotted path into a JSON body, e.g. data.status."
    )
    expected_json_value = models.CharField(max_length=500, blank=True)
    timeout_seconds = models.FloatField(
        default=10.0, validators=[MinValueValidator(0.5), MaxValueValidator(60)]
    )
    interval_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(MIN_INTERVAL_SECONDS)]
    )
    latency_threshold_ms = models.PositiveIntegerField(default=3000)
    failures_to_open = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    successes_to_recover = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    severity_down = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.MAJOR
    )
    severity_degraded = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.DEGRADED
    )
    paused = models.BooleanField(default=False)

    state = models.CharField(max_length=10, choices=ProbeState.choices, default=ProbeState.NEW)
    # Exactly one streak is non-zero after the first run: each result extends its own.
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_slow = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(default=timezone.now)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProbeQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "name"], name="probe_name_unique_in_service"
            ),
            models.CheckConstraint(
                condition=Q(interval_seconds__gte=MIN_INTERVAL_SECONDS),
                name="probe_interval_at_least_10s",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ProbeState]), name="probe_state_valid"
            ),
        ]
        indexes = [
            # The scheduler's only query: due, not paused, oldest first.
            models.Index(fields=["next_due_at"], condition=Q(paused=False), name="probe_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dedup_key(self) -> str:
        return f"probe:{self.pk}"

    def clean(self) -> None:
        if (
            self.timeout_seconds
            and self.interval_seconds
            and (self.timeout_seconds >= self.interval_seconds)
        ):
            raise ValidationError(
                {"timeout_seconds": "the timeout must be shorter than the interval"}
            )
        if self.expected_json_value and not self.expected_json_path:
            raise ValidationError({"expected_json_path": "give the path whose value to compare"})


class ProbeResult(models.Model):
    # Indexed by (probe, -at) below; a separate FK index would only slow the bulk inserts.
    probe = models.ForeignKey(
        Probe, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    at = models.DateTimeField()
    ok = models.BooleanField()
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=12, choices=ErrorCategory.choices, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["probe", "-at"], name="probe_result_probe_at_idx"),
            # Retention purge, rollups and /metrics scan by time across probes.
            models.Index(fields=["at"], name="probe_result_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.probe_id} {self.at:%H:%M:%S} {'ok' if self.ok else self.error}"


class ProbeRollup(models.Model):
    """One probe's results over one hour; kept after the raw results are purged."""

    probe = models.ForeignKey(
        Probe, on_delete=models.CASCADE, related_name="rollups", db_index=False
    )
    hour = models.DateTimeField()
    runs = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    slow = models.PositiveIntegerField()
    latency_avg_ms = models.FloatField(null=True)
    latency_p50_ms = models.FloatField(null=True)
    latency_p95_ms = models.FloatField(null=True)
    latency_p99_ms = models.FloatField(null=True)
    latency_max_ms = models.PositiveIntegerField(null=True)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["probe", "hour"], name="probe_rollup_one_per_hour")
        ]

    def __str__(self) -> str:
        return f"{self.probe_id} {self.hour:%Y-%m-%d %H:00}"


class HeartbeatQuerySet(models.QuerySet):
    def visible_to(self, user) -> HeartbeatQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(service__team_id__in=team_ids_of(user))


class Heartbeat(models.Model):
    """A push check: the monitored job pings /ping/<uuid>; silence past period + grace is down."""

    # Every ping rewrites this row and each of its indexes: keep them few (the unique
    # (service, name) index serves lookups by service).
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="heartbeats", db_index=False
    )
    name = models.CharField(max_length=120)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    period_seconds = models.PositiveIntegerField(default=86400, validators=[MinValueValidator(60)])
    grace_seconds = models.PositiveIntegerField(default=3600, validators=[MinValueValidator(60)])
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.MAJOR)
    state = models.CharField(max_length=10, choices=ProbeState.choices, default=ProbeState.NEW)
    # Null while new or paused: nothing to watch until the first ping.
    alert_after = models.DateTimeField(null=True, blank=True, db_index=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_start_at = models.DateTimeField(null=True, blank=True)
    last_exit_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ping_count = models.PositiveBigIntegerField(default=0)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = HeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "name"], name="heartbeat_name_unique_in_service"
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in ProbeState]), name="heartbeat_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def dedup_key(self) -> str:
        return f"heartbeat:{self.pk}"

    @property
    def ping_path(self) -> str:
        return f"/ping/{self.uuid}"


class PingKind(models.TextChoices):
    SUCCESS = "success", "success"
    START = "start", "start"
    FAIL = "fail", "fail"


class HeartbeatPing(models.Model):
    heartbeat = models.ForeignKey(
        Heartbeat, on_delete=models.CASCADE, related_name="pings", db_index=False
    )
    at = models.DateTimeField()
    kind = models.CharField(max_length=8, choices=PingKind.choices)
    exit_status = models.PositiveSmallIntegerField(null=True, blank=True)
    method = models.CharField(max_length=8)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        # One index only: every ping inserts a row, and each index costs on that hot path.
        # The retention purge walks it heartbeat by heartbeat.
        indexes = [models.Index(fields=["heartbeat", "-at"], name="ping_heartbeat_at_idx")]

    def __str__(self) -> str:
        return f"{self.heartbeat_id} {self.kind} {self.at:%H:%M:%S}"


class SchedulerTick(models.Model):
    """When each periodic loop last ran to completion; /readyz reads it (watch the watcher)."""

    name = models.CharField(max_length=40, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.at:%H:%M:%S}"
