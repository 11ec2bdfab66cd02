"""Model endpoints, their circuit breakers, the active route, telemetry, budgets and baselines.

A service has ordered model endpoints (tier 1 primary, 2 secondary, ...). Each endpoint carries
its circuit breaker's settings and state (closed / open / half-open); the state lives here in
PostgreSQL and the route built from it is served from the cache. The active route is the
lowest tier number whose breaker is closed; every change of it is a ``RouteChange`` row (the
route history), and each subscriber's webhook for it a ``RouteDelivery`` row (the outbox).
"""

from __future__ import annotations

import os

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from incidents.models import Incident, Service
from llm import crypto

MAX_TIER = 9


class Provider(models.TextChoices):
    OPENAI = "openai", "OpenAI chat completions (also vLLM, Ollama, LM Studio, gateways)"
    ANTHROPIC = "anthropic", "Anthropic messages"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "closed"
    OPEN = "open", "open"
    HALF_OPEN = "half_open", "half-open"


class ErrorKind(models.TextChoices):
    """What went wrong with one model call; telemetry's ``outcome`` is ``ok`` or one of these."""

    TIMEOUT = "timeout", "timeout"
    RATE_LIMIT = "rate_limit", "rate limited (429)"
    OVERLOADED = "overloaded", "overloaded (529)"
    SERVER = "server_error", "server error (5xx)"
    AUTH = "auth", "authentication refused"
    BAD_REQUEST = "bad_request", "request refused (4xx)"
    CONNECTION = "connection", "connection error"
    BLOCKED = "blocked", "refused by SSRF guard"
    MALFORMED = "malformed", "malformed answer"
    WRONG_ANSWER = "wrong_answer", "wrong answer"
    OTHER = "other", "other error"


OUTCOME_OK = "ok"
OUTCOMES = {OUTCOME_OK, *ErrorKind.values}


class EndpointQuerySet(models.QuerySet):
    def visible_to(self, user) -> EndpointQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(service__team_id__in=team_ids_of(user))


class ModelEndpoint(models.Model):
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="model_endpoints", db_index=False
    )
    name = models.CharField(max_length=80)
    provider = models.CharField(max_length=12, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.URLField(max_length=500)
    model = models.CharField(max_length=200)
    tier = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_TIER)]
    )
    # Fernet token (llm.crypto); write-only through every interface, never displayed.
    credential_encrypted = models.TextField(blank=True, editable=False)
    # Or the name of an environment variable of the worker that holds the key.
    credential_env = models.CharField(max_length=120, blank=True)
    price_in_per_1k = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, validators=[MinValueValidator(0)]
    )
    price_out_per_1k = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, validators=[MinValueValidator(0)]
    )
    enabled = models.BooleanField(default=True)

    # Breaker settings (resilience4j's names and defaults; slow call: 3 s).
    slow_call_ms = models.PositiveIntegerField(
        default=3000, validators=[MinValueValidator(1), MaxValueValidator(600_000)]
    )
    slow_rate_threshold = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    failure_rate_threshold = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    window_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(86_400)]
    )
    minimum_calls = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(100_000)]
    )
    open_wait_seconds = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(0), MaxValueValidator(86_400)]
    )
    half_open_calls = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    # The model probe: a tiny real completion in the provider's wire format.
    probe_enabled = models.BooleanField(default=True)
    probe_interval_seconds = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(86_400)]
    )
    probe_timeout_seconds = models.FloatField(
        default=10.0, validators=[MinValueValidator(0.1), MaxValueValidator(120)]
    )
    probe_prompt = models.CharField(max_length=500, default="Reply with the single word: pong")
    probe_expect = models.CharField(
        max_length=200, default="pong", blank=True, help_text="Text the answer must contain."
    )
    next_probe_at = models.DateTimeField(null=True, blank=True)

    breaker_state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    breaker_changed_at = models.DateTimeField(null=True, blank=True)
    breaker_reason = models.CharField(max_length=500, blank=True)
    half_open_passed = models.PositiveSmallIntegerField(default=0)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    last_outcome = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["service_id", "tier", "name"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="llm_endpoint_name_unique"),
            models.CheckConstraint(
                condition=Q(tier__gte=1, tier__lte=MAX_TIER), name="llm_endpoint_tier_range"
            ),
            models.CheckConstraint(
                condition=Q(breaker_state__in=[s.value for s in BreakerState]),
                name="llm_endpoint_breaker_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(provider__in=[p.value for p in Provider]),
                name="llm_endpoint_provider_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_probe_at"],
                condition=Q(enabled=True, probe_enabled=True),
                name="llm_endpoint_probe_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (tier {self.tier})"

    def __repr__(self) -> str:  # never the credential
        return f"<ModelEndpoint {self.pk} {self.name!r} tier {self.tier}>"

    @property
    def has_credential(self) -> bool:
        return bool(self.credential_encrypted or self.credential_env)

    def set_credential(self, plaintext: str) -> None:
        self.credential_encrypted = crypto.encrypt(plaintext) if plaintext else ""

    def credential(self) -> crypto.Credential:
        """The key to send (decrypted, or read from the named environment variable)."""
        if self.credential_encrypted:
            return crypto.Credential(crypto.decrypt(self.credential_encrypted))
        if self.credential_env:
            return crypto.Credential(os.environ.get(self.credential_env, ""))
        return crypto.Credential("")


class ModelProbeResult(models.Model):
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.CASCADE, related_name="probe_results", db_index=False
    )
    at = models.DateTimeField()
    ok = models.BooleanField()
    slow = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16)  # "ok" or an ErrorKind
    latency_ms = models.PositiveIntegerField(null=True)
    ttft_ms = models.PositiveIntegerField(null=True)
    status_code = models.PositiveSmallIntegerField(null=True)
    shadow = models.BooleanField(default=False, help_text="Run while the breaker was half-open.")
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="llm_probe_endpoint_at_idx")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.at:%H:%M:%S} {self.outcome}"


class LlmPolicy(models.Model):
    """A service's settings for its models: degradation message, budget, anomaly detection."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, related_name="llm_policy", primary_key=True
    )
    degradation_message = models.CharField(
        max_length=1000,
        blank=True,
        default="Our assistant is having trouble right now. Please try again in a few minutes.",
        help_text="What the avatar says when no model tier is available.",
    )
    daily_budget = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Model cost per day (UTC); warning at the warning share, incident at 100 %.",
    )
    budget_warning_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    anomaly_detection = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"LLM policy of {self.service_id}"


class RouteState(models.Model):
    """The active route of a service: which tier (and endpoint) its avatar should call now."""

    service = models.OneToOneField(
        Service, on_delete=models.CASCADE, related_name="llm_route", primary_key=True
    )
    # None: no tier is available (the degradation message applies).
    tier = models.PositiveSmallIntegerField(null=True)
    endpoint = models.ForeignKey(
        ModelEndpoint, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateTimeField()
    reason = models.CharField(max_length=500)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"route of {self.service_id}: tier {self.tier}"


class RouteChange(models.Model):
    """The route history: which tier served when, and why it changed."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="llm_route_changes", db_index=False
    )
    at = models.DateTimeField()
    from_tier = models.PositiveSmallIntegerField(null=True)
    to_tier = models.PositiveSmallIntegerField(null=True)
    from_endpoint = models.CharField(max_length=80, blank=True)
    to_endpoint = models.CharField(max_length=80, blank=True)
    reason = models.CharField(max_length=500)
    incident = models.ForeignKey(Incident, null=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["service", "-at"], name="llm_route_change_svc_at_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.from_tier}->{self.to_tier} at {self.at:%H:%M:%S}"


class RouteSubscriber(models.Model):
    """A URL told (signed webhook) whenever the service's route changes."""

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="llm_route_subscribers"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<RouteSubscriber {self.pk} {self.url!r}>"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class RouteDelivery(models.Model):
    """One webhook of one route change to one subscriber; the unique pair makes it once."""

    change = models.ForeignKey(RouteChange, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(RouteSubscriber, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["change", "subscriber"], name="llm_route_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="llm_route_delivery_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.change_id} -> {self.subscriber_id}: {self.status}"


class TelemetryEvent(models.Model):
    """One model call reported by the avatar (raw, kept for LLM_TELEMETRY_RETENTION_DAYS)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    at = models.DateTimeField()
    received_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField()
    ttft_ms = models.PositiveIntegerField(null=True)
    outcome = models.CharField(max_length=16)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    feedback = models.FloatField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["endpoint", "at"], name="llm_telemetry_endpoint_at_idx"),
            models.Index(fields=["service", "at"], name="llm_telemetry_service_at_idx"),
            # The rollup finds what arrived since its last run; the purge walks it too.
            models.Index(fields=["received_at"], name="llm_telemetry_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.at:%H:%M:%S} {self.outcome}"


class TelemetryMinute(models.Model):
    """One endpoint's calls in one minute (by the calls' own time); kept after raw events go."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.CASCADE, related_name="minutes", db_index=False
    )
    minute = models.DateTimeField()
    calls = models.PositiveIntegerField()
    errors = models.PositiveIntegerField()
    errors_by_kind = models.JSONField(default=dict)
    slow = models.PositiveIntegerField()
    latency_p50_ms = models.FloatField(null=True)
    latency_p95_ms = models.FloatField(null=True)
    latency_p99_ms = models.FloatField(null=True)
    ttft_p50_ms = models.FloatField(null=True)
    ttft_p95_ms = models.FloatField(null=True)
    ttft_p99_ms = models.FloatField(null=True)
    tokens_in = models.PositiveBigIntegerField()
    tokens_out = models.PositiveBigIntegerField()
    cost = models.DecimalField(max_digits=16, decimal_places=6)
    feedback_count = models.PositiveIntegerField()
    feedback_negative = models.PositiveIntegerField()

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "minute"], name="llm_telemetry_minute_once")
        ]
        indexes = [models.Index(fields=["service", "minute"], name="llm_minute_service_idx")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.minute:%Y-%m-%d %H:%M}"


class Feedback(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    at = models.DateTimeField()
    conversation = models.CharField(max_length=200)
    negative = models.BooleanField(default=True)
    comment = models.TextField(blank=True, max_length=4000)
    endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["service", "at"], name="llm_feedback_service_at_idx")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.conversation} {'-' if self.negative else '+'}"


class Metric(models.TextChoices):
    P95_LATENCY = "p95_latency_ms", "p95 latency (ms)"
    ERROR_RATE = "error_rate", "error rate"
    COST_PER_HOUR = "cost_per_hour", "cost per hour"
    TOKENS_PER_CALL = "tokens_per_call", "tokens per call"
    NEGATIVE_FEEDBACK = "negative_feedback_share", "negative-feedback share"


class ServiceHour(models.Model):
    """A service's metrics over one hour: the history the baselines are computed from."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    calls = models.PositiveIntegerField()
    values = models.JSONField(default=dict)  # Metric -> float (absent when undefined)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["service", "hour"], name="llm_service_hour_once")
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.hour:%Y-%m-%d %H:00}"


class Baseline(models.Model):
    """The documented normal of one metric at one hour of the week: median and MAD."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    hour_of_week = models.PositiveSmallIntegerField(validators=[MaxValueValidator(167)])
    median = models.FloatField()
    mad = models.FloatField()
    low = models.FloatField()
    high = models.FloatField()
    samples = models.PositiveIntegerField()
    # "hour_of_week" (enough history for this hour) or "pooled" (start-up rule: all recent hours).
    basis = models.CharField(max_length=16)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "metric", "hour_of_week"], name="llm_baseline_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.metric} h{self.hour_of_week}"


class BudgetDay(models.Model):
    """What the budget check has already said for one service and UTC day (said once)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    spent = models.DecimalField(max_digits=16, decimal_places=6, default=0)
    budget = models.DecimalField(max_digits=14, decimal_places=4)
    warned_at = models.DateTimeField(null=True, blank=True)
    exceeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "day"], name="llm_budget_day_once")
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.day}"
