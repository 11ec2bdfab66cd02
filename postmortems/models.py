from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Team
from incidents.models import Incident


class Status(models.TextChoices):
    DRAFT = "draft", "draft"
    IN_REVIEW = "in_review", "in review"
    PUBLISHED = "published", "published"


class PostMortemQuerySet(models.QuerySet):
    def visible_to(self, user) -> PostMortemQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(team_id__in=team_ids_of(user))

    def published(self) -> PostMortemQuerySet:
        return self.filter(status=Status.PUBLISHED)


# The prose of a post-mortem (Markdown), read by the blameless check and the search document.
PROSE_FIELDS = ("summary", "impact", "what_went_well", "what_went_wrong", "lessons_learned")
# What people edit (form, API, services.update_postmortem): the one list of them.
EDITABLE_FIELDS = (
    "title",
    *PROSE_FIELDS,
    "impact_started_at",
    "data_loss_from",
    "data_loss_until",
    "no_action_needed",
    "no_action_reason",
)


class PostMortem(models.Model):
    """The blameless review of one incident. Its numbers are measured from the incident
    (postmortems.facts), never typed; only the start of impact and the data-loss window, which
    Vigil cannot observe, are recorded here by people."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    # Denormalised from incident.team: lists and search filter by team.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="postmortems")
    title = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    drafted_automatically = models.BooleanField(default=False)

    summary = models.TextField(blank=True, help_text="Markdown: what happened, in brief.")
    impact = models.TextField(blank=True, help_text="Markdown: who was affected and how.")
    what_went_well = models.TextField(blank=True)
    what_went_wrong = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)

    impact_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When users were first affected, if before the alert."
    )
    data_loss_from = models.DateTimeField(null=True, blank=True)
    data_loss_until = models.DateTimeField(null=True, blank=True)
    # Publishing needs an action item or this explicit statement, with its reason.
    no_action_needed = models.BooleanField(
        default=False, help_text="Nothing needs to change after this incident (say why)."
    )
    no_action_reason = models.TextField(blank=True)

    # Copied from the incident when drafted: the record as it stood when the review began.
    timeline_snapshot = models.JSONField(default=list, blank=True)
    alerts_snapshot = models.JSONField(default=list, blank=True)
    responders = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_note = models.TextField(blank=True)
    # Kept current by the services (postmortems.search); a GIN index on PostgreSQL serves the
    # knowledge-base search. Unused on SQLite.
    search_document = SearchVectorField(null=True, editable=False)

    objects = PostMortemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="postmortem_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(data_loss_from__isnull=True)
                | Q(data_loss_until__isnull=True)
                | Q(data_loss_until__gte=models.F("data_loss_from")),
                name="postmortem_data_loss_window_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="postmortem_published_has_time",
            ),
            models.CheckConstraint(
                condition=Q(no_action_needed=False) | ~Q(no_action_reason=""),
                name="postmortem_no_action_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status"], name="postmortem_team_status_idx"),
            models.Index(fields=["team", "-created_at", "-id"], name="postmortem_team_created_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == Status.PUBLISHED


class ReviewComment(models.Model):
    """A reviewer's remark on a post-mortem; the one thing that may be added while it is in
    review (the document itself is read-only then)."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=150)
    body = models.TextField()
    # The status the post-mortem had when the comment was written (draft or in review).
    during = models.CharField(max_length=16, choices=Status.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="review_comment_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.author_name}: {self.body[:40]}"


class WhyNode(models.Model):
    """One question and answer of the 5-Why tree; any depth, any number of branches."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="whys")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    position = models.PositiveIntegerField(default=0)
    question = models.CharField(max_length=500)
    answer = models.TextField(blank=True)
    is_root_cause = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.question


class FactorCategory(models.TextChoices):
    TECHNICAL = "technical", "technical"
    EXTERNAL = "external", "external"
    INTERNAL = "internal", "internal"
    OPERATIONAL = "operational", "operational"


# The taxonomy of contributing factors: each factor belongs to one category.
TAXONOMY: dict[str, list[tuple[str, str]]] = {
    FactorCategory.TECHNICAL: [
        ("api_limits", "API limits"),
        ("provider_outage", "provider outage"),
        ("model_degradation", "model degradation"),
        ("version_conflict", "version conflict"),
    ],
    FactorCategory.EXTERNAL: [
        ("ddos", "DDoS"),
        ("prompt_injection", "prompt injection"),
        ("data_poisoning", "data poisoning"),
        ("credential_theft", "credential theft"),
    ],
    FactorCategory.INTERNAL: [
        ("resource_shortage", "resource shortage"),
        ("knowledge_gaps", "knowledge gaps"),
        ("configuration_error", "configuration error"),
        ("integration_failure", "integration failure"),
    ],
    FactorCategory.OPERATIONAL: [
        ("cost_overrun", "cost overrun"),
        ("compliance_breach", "compliance breach"),
        ("skills_gap", "skills gap"),
        ("monitoring_gap", "monitoring gap"),
    ],
}
FACTOR_CHOICES = [choice for choices in TAXONOMY.values() for choice in choices]
CATEGORY_OF = {key: category for category, choices in TAXONOMY.items() for key, _ in choices}


class ContributingFactor(models.Model):
    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="factors")
    category = models.CharField(max_length=16, choices=FactorCategory.choices)
    factor = models.CharField(max_length=32, choices=FACTOR_CHOICES)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["category", "factor", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(factor__in=list(CATEGORY_OF)), name="factor_in_taxonomy"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.get_factor_display()}"


class Priority(models.IntegerChoices):
    URGENT = 1, "urgent"
    HIGH = 2, "high"
    MEDIUM = 3, "medium"
    LOW = 4, "low"


class ItemStatus(models.TextChoices):
    OPEN = "open", "open"
    IN_PROGRESS = "in_progress", "in progress"
    DONE = "done", "done"
    WONT_DO = "wont_do", "won't do"


OPEN_ITEM_STATUSES = (ItemStatus.OPEN, ItemStatus.IN_PROGRESS)


class ActionItemQuerySet(models.QuerySet):
    def visible_to(self, user) -> ActionItemQuerySet:
        from accounts.permissions import team_ids_of

        return self.filter(postmortem__team_id__in=team_ids_of(user))

    def overdue(self, today=None) -> ActionItemQuerySet:
        today = today or timezone.localdate()
        return self.filter(status__in=OPEN_ITEM_STATUSES, due_date__lt=today)


class ActionItem(models.Model):
    """Follow-up work; stays editable after the post-mortem is published."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    link = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ItemStatus]),
                name="action_item_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=4), name="action_item_priority_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="action_item_due_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return (
            self.status in OPEN_ITEM_STATUSES
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )
