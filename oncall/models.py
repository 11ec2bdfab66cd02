"""On-call data: rotations, escalation policies L1-L4, channels, escalation state, deliveries.

The link service -> policy lives here (ServiceEscalation), never on incidents.Service: the core
does not know that escalation exists.
"""

from __future__ import annotations

import re
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.db.models import Q

from accounts.models import Team
from incidents.models import Incident, Service

LEVELS = (1, 2, 3, 4)
LEVEL_NAMES = {
    1: "L1 automatic systems",
    2: "L2 on-call engineer",
    3: "L3 specialist team",
    4: "L4 management and partners",
}

# Documented defaults (issue 5): which level each severity starts at, the highest level it may
# reach, and levels informed at once besides the start level.
DEFAULT_SEVERITY_RULES = {
    "1": {"start": 1, "stop": 1, "inform": []},  # L1 only, nobody is paged
    "2": {"start": 1, "stop": 4, "inform": []},  # L1, then up on timers
    "3": {"start": 1, "stop": 4, "inform": []},
    "4": {"start": 2, "stop": 4, "inform": []},  # L2 paged at once
    "5": {"start": 2, "stop": 4, "inform": [4]},  # L2 paged and L4 informed at once
}


def default_severity_rules() -> dict:
    return {k: dict(v, inform=list(v["inform"])) for k, v in DEFAULT_SEVERITY_RULES.items()}


def validate_severity_rules(rules: dict) -> None:
    if not isinstance(rules, dict):
        raise ValidationError("severity rules must be an object keyed by severity 1-5")
    for sev in ("1", "2", "3", "4", "5"):
        rule = rules.get(sev)
        if not isinstance(rule, dict):
            raise ValidationError(f"severity {sev}: a rule with start, stop and inform is missing")
        start, stop, inform = rule.get("start"), rule.get("stop"), rule.get("inform", [])
        if start not in LEVELS or stop not in LEVELS:
            raise ValidationError(f"severity {sev}: start and stop must be levels 1-4")
        if stop < start:
            raise ValidationError(f"severity {sev}: stop level {stop} is below start {start}")
        if not isinstance(inform, list) or any(level not in LEVELS for level in inform):
            raise ValidationError(f"severity {sev}: inform must be a list of levels 1-4")


def _ical_token() -> str:
    return secrets.token_urlsafe(24)


# --- rotations ----------------------------------------------------------------------------


class Rotation(models.Model):
    """Ordered users taking shifts of ``shift_hours``, handing off at ``handoff_time`` local time.

    Shifts that are whole days are counted in the rotation's calendar, so a daily 09:00 handoff
    stays at 09:00 local time across DST changes (that shift is 23 or 25 hours long). Other
    shift lengths count elapsed hours from the first handoff.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=120)
    time_zone = models.CharField(max_length=64, default="UTC")
    shift_hours = models.PositiveIntegerField(default=168, help_text="168 = weekly shifts.")
    handoff_time = models.TimeField(default="09:00")
    start_date = models.DateField(help_text="Date of the first handoff (to the first member).")
    # Secret in the iCal feed URL: calendar apps cannot log in.
    ical_token = models.CharField(max_length=64, default=_ical_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="rotation_name_unique_in_team"),
            models.CheckConstraint(condition=Q(shift_hours__gte=1), name="rotation_shift_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"time_zone": f"unknown time zone {self.time_zone!r}"}) from None
        from oncall.rotations import validate_rotation

        problems = validate_rotation(shift_hours=self.shift_hours, start_date=self.start_date)
        if problems:
            raise ValidationError(problems)


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotation_member_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class Override(models.Model):
    """Someone else covers [start, end) of a rotation. The latest override wins where they overlap."""

    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="override_ends"),
        ]
        indexes = [models.Index(fields=["rotation", "start", "end"], name="override_span_idx")]

    def __str__(self) -> str:
        return f"{self.user} covers {self.rotation} {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"


# --- channels and contact methods ---------------------------------------------------------


class ChannelKind(models.TextChoices):
    EMAIL = "email", "email"
    WEBHOOK = "webhook", "generic webhook (signed JSON)"
    SLACK = "slack", "Slack-compatible incoming webhook"
    TEAMS = "teams", "Microsoft Teams (Workflows webhook, Adaptive Card)"
    MATTERMOST = "mattermost", "Mattermost incoming webhook"
    ROCKETCHAT = "rocketchat", "Rocket.Chat incoming webhook"
    DISCORD = "discord", "Discord webhook"
    TELEGRAM = "telegram", "Telegram (Bot API, chat id)"
    NTFY = "ntfy", "ntfy push (topic URL)"
    SMS = "sms", "SMS (Twilio-compatible)"
    VOICE = "voice", "voice call (Twilio-compatible)"


URL_KINDS = {"webhook", "slack", "teams", "mattermost", "rocketchat", "discord", "ntfy"}
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TELEGRAM_CHAT = re.compile(r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")


def validate_destination(kind: str, target: str) -> None:
    """What a channel or contact method of ``kind`` must have as its target."""
    if kind == ChannelKind.EMAIL:
        validate_email(target)
    elif kind in URL_KINDS:
        URLValidator(schemes=["http", "https"])(target)
    elif kind in (ChannelKind.SMS, ChannelKind.VOICE):
        if not _E164.match(target or ""):
            raise ValidationError(
                f"{target!r} is not a phone number in E.164 form (+4917612345678)"
            )
    elif kind == ChannelKind.TELEGRAM and not _TELEGRAM_CHAT.match(target or ""):
        raise ValidationError(f"{target!r} is not a Telegram chat id (-1001234567890 or @name)")


class Channel(models.Model):
    """A team-wide destination: a mailing list, a chat room webhook, a generic webhook."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="oncall_channels")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(max_length=500, help_text="Email address or URL.")
    secret = models.CharField(
        max_length=128, blank=True, help_text="HMAC key for generic webhooks."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="channel_name_unique_in_team"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        try:
            validate_destination(self.kind, self.target)
        except ValidationError as exc:
            raise ValidationError({"target": exc.messages}) from None


class ContactMethod(models.Model):
    """How one person is reached. A user without any is reached by their account email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(max_length=500)
    secret = models.CharField(max_length=128, blank=True)
    is_active = models.BooleanField(default=True)
    # The person's order of preference; deliveries go to every active method in this order.
    position = models.PositiveIntegerField(default=0)
    # Set when a test message to it was delivered (the person asked for it and it arrived).
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, null=True)

    class Meta:
        ordering = ["user", "position", "id"]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} {self.target}"

    def clean(self) -> None:
        try:
            validate_destination(self.kind, self.target)
        except ValidationError as exc:
            raise ValidationError({"target": exc.messages}) from None


# --- escalation policies ------------------------------------------------------------------


class EscalationPolicy(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="escalation_policies")
    name = models.CharField(max_length=120)
    # Used for the team's services that have no policy of their own.
    is_team_default = models.BooleanField(default=False)
    repeat_last_level = models.PositiveSmallIntegerField(
        default=2, help_text="How many more times the last level is paged while unacknowledged."
    )
    severity_rules = models.JSONField(
        default=default_severity_rules, validators=[validate_severity_rules]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="policy_name_unique_in_team"),
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_team_default=True), name="policy_one_team_default"
            ),
            models.CheckConstraint(
                condition=Q(repeat_last_level__lte=10), name="policy_repeat_at_most_10"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    number = models.PositiveSmallIntegerField(choices=[(n, LEVEL_NAMES[n]) for n in LEVELS])
    timeout_minutes = models.PositiveIntegerField(
        default=15, help_text="Minutes without acknowledgement before the next level engages."
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    rotation = models.ForeignKey(
        Rotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Every responder of this team is paged (the specialist team).",
    )
    channels = models.ManyToManyField(Channel, blank=True, related_name="+")

    class Meta:
        ordering = ["policy", "number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="level_unique_in_policy"),
            models.CheckConstraint(
                condition=Q(number__gte=1, number__lte=4), name="level_number_1_to_4"
            ),
            models.CheckConstraint(condition=Q(timeout_minutes__gte=1), name="level_timeout_min"),
        ]

    def __str__(self) -> str:
        return f"{self.policy}: L{self.number}"


class AutomatedAction(models.Model):
    """An outgoing signed HTTP request fired when its level engages (self-healing webhooks).

    ``body_template`` is JSON filled by ``incidents.outbound.fill_json_template``, the template
    language runbook actions use too: ``{{ incident.title }}``, ``{{ service.slug }}``,
    ``{{ level }}``..., and the older ``$reference``, ``$incident_id``, ``$title``, ``$severity``,
    ``$severity_label``, ``$service``, ``$service_slug``, ``$summary``, ``$url`` and ``$level``
    (no code runs, the JSON stays valid).
    """

    level = models.ForeignKey(EscalationLevel, on_delete=models.CASCADE, related_name="actions")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    body_template = models.JSONField(default=dict, blank=True)
    secret = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["level", "id"]

    def __str__(self) -> str:
        return self.name


class ServiceEscalation(models.Model):
    """Which policy pages for a service (one row per service, owned by oncall)."""

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="services")

    def __str__(self) -> str:
        return f"{self.service} -> {self.policy}"

    def clean(self) -> None:
        if self.service_id and self.policy_id and self.service.team_id != self.policy.team_id:
            raise ValidationError("the policy must belong to the service's team")


# --- escalation in flight -----------------------------------------------------------------


class EscalationStatus(models.TextChoices):
    ACTIVE = "active", "active"  # waiting for the next step at next_due_at
    STOPPED = "stopped", "stopped"  # acknowledged or resolved
    EXHAUSTED = "exhausted", "exhausted"  # every level and repeat engaged, still unacknowledged
    NO_POLICY = "no_policy", "no policy"


class EscalationStateQuerySet(models.QuerySet):
    def due(self, now) -> EscalationStateQuerySet:
        return self.filter(status=EscalationStatus.ACTIVE, next_due_at__lte=now)


class EscalationState(models.Model):
    """The escalation of one incident, with the policy as it was when the incident opened.

    ``token`` changes on every step, stop and restart: a step fired with an old token (a stale
    or duplicated task, a second beat) finds no match and does nothing.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="escalation_state"
    )
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_snapshot = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=EscalationStatus.choices, default=EscalationStatus.ACTIVE
    )
    current_level = models.PositiveSmallIntegerField(default=0)  # 0: nothing engaged yet
    stop_level = models.PositiveSmallIntegerField(default=4)
    repeats_done = models.PositiveSmallIntegerField(default=0)
    # Bumped on every restart (reopen, severity raise): part of each delivery's idempotency key.
    series = models.PositiveIntegerField(default=1)
    token = models.UUIDField(default=uuid.uuid4)
    next_due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = EscalationStateQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["next_due_at"],
                condition=Q(status="active"),
                name="escalation_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference}: L{self.current_level} {self.status}"


# --- deliveries ---------------------------------------------------------------------------


class NotificationKind(models.TextChoices):
    EMAIL = "email", "email"
    WEBHOOK = "webhook", "webhook"
    SLACK = "slack", "Slack"
    ACTION = "action", "automated action"
    TEAMS = "teams", "Microsoft Teams"
    MATTERMOST = "mattermost", "Mattermost"
    ROCKETCHAT = "rocketchat", "Rocket.Chat"
    DISCORD = "discord", "Discord"
    TELEGRAM = "telegram", "Telegram"
    NTFY = "ntfy", "ntfy"
    SMS = "sms", "SMS"
    VOICE = "voice", "voice call"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


class NotificationQuerySet(models.QuerySet):
    def due(self, now) -> NotificationQuerySet:
        return self.filter(status=NotificationStatus.QUEUED, next_attempt_at__lte=now)

    def lease_expired(self, now) -> NotificationQuerySet:
        return self.filter(status=NotificationStatus.SENDING, lease_until__lt=now)


class Notification(models.Model):
    """One message to one destination. ``idempotency_key`` makes a second insert impossible;
    the status claim (queued -> sending, conditional UPDATE) makes a second send impossible
    while the lease holds. A worker dying mid-send loses its lease and the sweep retries."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField()
    purpose = models.CharField(max_length=16, default="page")  # page | inform | action
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_method = models.ForeignKey(
        ContactMethod, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.ForeignKey(
        AutomatedAction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.CharField(max_length=500)
    label = models.CharField(max_length=200, help_text="Who or what, for people reading it.")
    # Rendered body for actions; message fields for people.
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The file the development mail backend wrote this message to (empty when really sent).
    written_to = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in NotificationStatus]),
                name="notification_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="notification_due_idx",
            ),
            models.Index(
                fields=["lease_until"], condition=Q(status="sending"), name="notification_lease_idx"
            ),
            models.Index(fields=["incident", "-created_at"], name="notification_incident_idx"),
            # Analytics' on-call load: the pages sent to people in a time range.
            models.Index(
                fields=["created_at", "recipient", "incident"],
                condition=Q(purpose="page", recipient__isnull=False),
                name="notification_page_created_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.reference} L{self.level} {self.kind} -> {self.label}: {self.status}"


class AckLink(models.Model):
    """The nonce behind a signed acknowledge link: the link works once (used_at) and expires."""

    nonce = models.CharField(max_length=64, unique=True)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    label = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"ack {self.incident.reference} for {self.recipient or self.label}"


class NotificationRule(models.Model):
    """How one person wants to be reached for incidents of at least ``min_severity``: this
    contact method, ``delay_minutes`` after the page (PagerDuty's urgency rules).

    A person's rules form tiers by ``min_severity``; a page uses the highest tier at or below
    the incident's severity. With no rules, or no tier reaching down to the severity, every
    active contact method is used at once (oncall.delivery.destinations_for).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    min_severity = models.PositiveSmallIntegerField()
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="rules"
    )
    delay_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-min_severity", "delay_minutes", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_severity__gte=1, min_severity__lte=5),
                name="notification_rule_severity_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(delay_minutes__lte=1440), name="notification_rule_delay_at_most_a_day"
            ),
            models.UniqueConstraint(
                fields=["user", "min_severity", "contact_method", "delay_minutes"],
                name="notification_rule_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: severity >= {self.min_severity} -> {self.contact_method_id} +{self.delay_minutes}m"
