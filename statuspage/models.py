"""Public status pages: components, public incidents and their updates, communication
templates, subscribers and maintenance windows.

What a stranger may read lives in these rows only (names, messages, times written for the
public); the public views never follow a relation into the incident core's internal fields.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from incidents.models import Incident, Service
from statuspage.languages import default_languages


class ComponentStatus(models.TextChoices):
    OPERATIONAL = "operational", _("Operational")
    DEGRADED_PERFORMANCE = "degraded_performance", _("Degraded performance")
    PARTIAL_OUTAGE = "partial_outage", _("Partial outage")
    MAJOR_OUTAGE = "major_outage", _("Major outage")
    UNDER_MAINTENANCE = "under_maintenance", _("Under maintenance")


# Worse states rank higher; maintenance ranks above operational, below any outage.
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def status_for_severity(severity: int | None) -> str:
    """Statuspage's convention: 1-2 degraded performance, 3 partial outage, 4-5 major outage."""
    if not severity:
        return ComponentStatus.OPERATIONAL
    if severity <= 2:
        return ComponentStatus.DEGRADED_PERFORMANCE
    if severity == 3:
        return ComponentStatus.PARTIAL_OUTAGE
    return ComponentStatus.MAJOR_OUTAGE


def _status_values() -> list[str]:
    return [s.value for s in ComponentStatus]


class StatusPageQuerySet(models.QuerySet):
    def visible_to(self, user) -> StatusPageQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))


class StatusPage(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="status_pages")
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    is_public = models.BooleanField(
        default=True, help_text=_("Public pages need no login; others answer 404 to strangers.")
    )
    logo_url = models.URLField(max_length=500, blank=True)
    accent_colour = models.CharField(max_length=7, default="#2563eb")
    support_url = models.URLField(max_length=500, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # Language codes, the default first: the texts of the page carry one text per language.
    languages = models.JSONField(default=default_languages)
    auto_post_first_update = models.BooleanField(
        default=False,
        help_text=_(
            "Post the drafted first update at once; otherwise hold it for one-click approval."
        ),
    )
    degradation_public = models.BooleanField(
        default=True,
        help_text=_("Answer the degradation endpoint of this page's services without a token."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = StatusPageQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accent_colour__regex=r"^#[0-9a-fA-F]{6}$"),
                name="statuspage_accent_colour_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else default_languages()[0]


class ComponentGroup(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0)
    # {language: {"name": ...}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["page", "name"], name="statuspage_group_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Component(models.Model):
    """What the public sees as one thing ("Chat on the website"), backed by services.

    ``derived_status`` follows open, non-drill incidents on the services (kept current by the
    incident event receivers); a manual override wins until ``override_until``.
    """

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="components")
    group = models.ForeignKey(
        ComponentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    services = models.ManyToManyField(Service, blank=True, related_name="status_components")
    position = models.PositiveIntegerField(default=0)
    only_show_if_degraded = models.BooleanField(default=False)
    derived_status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    override_status = models.CharField(max_length=24, choices=ComponentStatus.choices, blank=True)
    override_until = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    # {language: {"name": ..., "description": ...}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "name"], name="statuspage_component_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(derived_status__in=_status_values()),
                name="statuspage_component_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(override_status="") & Q(override_until__isnull=True))
                | (Q(override_status__in=_status_values()) & Q(override_until__isnull=False)),
                name="statuspage_component_override_has_expiry",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def status_at(self, now: datetime, *, in_maintenance: bool = False) -> str:
        if self.override_status and self.override_until and self.override_until > now:
            return self.override_status
        if in_maintenance and self.derived_status == ComponentStatus.OPERATIONAL:
            return ComponentStatus.UNDER_MAINTENANCE
        return self.derived_status


class UpdateStatus(models.TextChoices):
    INVESTIGATING = "investigating", _("Investigating")
    IDENTIFIED = "identified", _("Identified")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")


class Impact(models.TextChoices):
    NONE = "none", _("None")
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


def impact_for_severity(severity: int) -> str:
    if severity <= 2:
        return Impact.MINOR
    if severity == 3:
        return Impact.MAJOR
    return Impact.CRITICAL


class PublicIncident(models.Model):
    """The public face of one incident on one page: a name written for customers and the
    updates posted about it. At most one per (page, incident), so a re-dispatched "opened"
    event drafts nothing twice."""

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="incidents")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=UpdateStatus.choices, default=UpdateStatus.INVESTIGATING
    )
    impact = models.CharField(max_length=8, choices=Impact.choices, default=Impact.MINOR)
    components = models.ManyToManyField(Component, blank=True, related_name="public_incidents")
    # What the avatar should say while this is active (from the template, or by hand).
    degradation_message = models.CharField(max_length=500, blank=True)
    # {language: {"name": ..., "degradation_message": ...}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)
    # Empty until the first update is posted: a drafted incident is not public yet.
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "incident"], name="statuspage_one_public_incident_per_page"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in UpdateStatus]),
                name="statuspage_public_incident_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="statuspage_public_incident_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["page", "-created_at"], name="statuspage_pi_page_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class PublicUpdate(models.Model):
    """One message of a public incident. A draft (``posted_at`` empty) waits for approval; at
    most one draft per public incident."""

    public_incident = models.ForeignKey(
        PublicIncident, on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=16, choices=UpdateStatus.choices)
    body = models.TextField(max_length=5000)
    # {language: {"body": ...}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)
    template = models.ForeignKey(
        "CommunicationTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    posted_at = models.DateTimeField(null=True, blank=True)
    # Internal only: never rendered on public pages or feeds.
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in UpdateStatus]),
                name="statuspage_update_status_valid",
            ),
            models.UniqueConstraint(
                fields=["public_incident"],
                condition=Q(posted_at__isnull=True),
                name="statuspage_one_draft_per_public_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status}: {self.body[:60]}"

    @property
    def is_draft(self) -> bool:
        return self.posted_at is None


class CommunicationTemplate(models.Model):
    """Words written in advance for a known problem pattern.

    Matchers work like runbook matchers: every given part must hold (services, severity range,
    shell-style patterns on the contributing cause and on alert labels). The best match is the
    one naming the most parts. Text may use the placeholders in ``PLACEHOLDERS``.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="status_templates")
    name = models.CharField(max_length=120)
    services = models.ManyToManyField(Service, blank=True, related_name="+")
    min_severity = models.PositiveSmallIntegerField(default=1)
    max_severity = models.PositiveSmallIntegerField(default=5)
    match_cause = models.CharField(
        max_length=200,
        blank=True,
        help_text=_("Shell-style pattern on the contributing cause (label 'cause')."),
    )
    match_labels = models.JSONField(default=dict, blank=True)
    title = models.CharField(max_length=200, help_text=_("Public incident name."))
    body = models.TextField(max_length=5000)
    workaround = models.CharField(max_length=500, blank=True)
    next_update_minutes = models.PositiveIntegerField(default=30)
    degradation_message = models.CharField(
        max_length=500, blank=True, help_text=_("What the avatar says while this is active.")
    )
    # {language: {"title", "body", "workaround", "degradation_message"}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"], name="statuspage_template_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(min_severity__gte=1, max_severity__lte=5)
                & Q(min_severity__lte=models.F("max_severity")),
                name="statuspage_template_severity_range_valid",
            ),
            models.CheckConstraint(
                condition=Q(next_update_minutes__gte=1, next_update_minutes__lte=10080),
                name="statuspage_template_next_update_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SubscriberKind(models.TextChoices):
    EMAIL = "email", _("email")
    WEBHOOK = "webhook", _("webhook")


def _subscriber_secret() -> str:
    return secrets.token_hex(32)


class Subscriber(models.Model):
    """Someone (an address) or something (a URL) that hears about updates.

    Email subscribers receive nothing until they confirm through the signed link (double
    opt-in). Unsubscribing keeps the row (``unsubscribed_at``) so a delivery already queued
    sees it and drops the message.
    """

    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="subscribers")
    kind = models.CharField(max_length=8, choices=SubscriberKind.choices)
    target = models.CharField(max_length=500)
    secret = models.CharField(max_length=64, default=_subscriber_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # The page language the subscriber reads (empty: the page's default).
    language = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "kind", "target"],
                condition=Q(unsubscribed_at__isnull=True),
                name="statuspage_one_live_subscription",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["email", "webhook"]), name="statuspage_subscriber_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class MaintenanceStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class MaintenanceWindow(models.Model):
    page = models.ForeignKey(StatusPage, on_delete=models.CASCADE, related_name="maintenances")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=5000, blank=True)
    # {language: {"title": ..., "body": ...}} (statuspage.languages)
    translations = models.JSONField(default=dict, blank=True)
    components = models.ManyToManyField(Component, related_name="maintenances")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=MaintenanceStatus.choices, default=MaintenanceStatus.SCHEDULED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="statuspage_maintenance_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MaintenanceStatus]),
                name="statuspage_maintenance_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="statuspage_maintenance_completed_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "starts_at"], name="statuspage_mw_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class SuppressedOpening(models.Model):
    """An incident that a maintenance window kept from opening: the service-level record.

    One row per (window, service, dedup key), counting repeats. ``replay`` says how to open it
    for real when the window ends (unless ``cleared_at`` says it recovered meanwhile).
    """

    window = models.ForeignKey(
        MaintenanceWindow, on_delete=models.CASCADE, related_name="suppressed"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16)
    dedup_key = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255)
    severity = models.PositiveSmallIntegerField()
    summary = models.TextField(blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    replay = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-last_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["window", "service", "dedup_key"], name="statuspage_one_suppression_per_key"
            ),
            models.CheckConstraint(
                condition=Q(severity__gte=1, severity__lte=5),
                name="statuspage_suppression_severity_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"suppressed {self.title} ({self.count}x)"
