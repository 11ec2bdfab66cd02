from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Custom user from the first migration, so fields can be added without a painful swap."""

    display_name = models.CharField(max_length=150, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class Role(models.IntegerChoices):
    """Ordered: each role may do everything the roles below it may."""

    VIEWER = 10, "viewer"
    RESPONDER = 20, "responder"
    MANAGER = 30, "manager"
    ADMIN = 40, "admin"


class TeamQuerySet(models.QuerySet):
    def of_user(self, user) -> TeamQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Team(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Off: a post-mortem is approved by someone other than the person who submitted it.
    postmortem_self_approval = models.BooleanField(
        default=False,
        help_text="Allow the person who submitted a post-mortem to approve and publish it.",
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.RESPONDER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_one_per_user_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} as {self.get_role_display()}"


class AuditLog(models.Model):
    """Append-only record of security-relevant actions. Never stores secrets."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_label or self.actor} {self.action} {self.target}"
        )


class ApiTokenQuerySet(models.QuerySet):
    def active(self, now=None) -> ApiTokenQuerySet:
        from django.utils import timezone

        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A personal API token: acts as its user, within that user's teams and roles.

    Only the public ``prefix`` (``vgl_`` + key id) and an HMAC of the whole token are stored;
    the plaintext is shown once, at creation. See accounts.tokens.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # "vgl_" + a random key id: shown in lists and logs, used to find the row in one lookup.
    prefix = models.CharField(max_length=32, unique=True)
    # HMAC-SHA256 (hex) of the whole token, keyed from SECRET_KEY.
    digest = models.CharField(max_length=64)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_active(self, now=None) -> bool:
        from django.utils import timezone

        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ExternalIdentity(models.Model):
    """A person's account at a single sign-on provider: (issuer, subject) names them for good,
    whatever their email or username becomes. Accounts are matched by this, never by email,
    so a provider cannot take over a local account by claiming its address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    # Groups the provider sent at the last login, for people wondering why a role changed.
    last_groups = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} via {self.issuer}"


class TeamInviteQuerySet(models.QuerySet):
    def pending(self, now=None) -> TeamInviteQuerySet:
        from django.utils import timezone

        now = now or timezone.now()
        return self.filter(used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class TeamInvite(models.Model):
    """A single-use, expiring link that makes whoever opens it a member of ``team``.

    Only an HMAC of the link's token is stored (accounts.invites); the link is shown once, to
    the admin who made it (and mailed to ``email`` when one was given).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    role = models.PositiveSmallIntegerField(choices=Role.choices, default=Role.RESPONDER)
    email = models.EmailField(blank=True, help_text="Who it was sent to, if anyone.")
    # HMAC-SHA256 (hex) of the token, keyed from SECRET_KEY: the lookup key, never the token.
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TeamInviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="invite_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(used_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invite_not_used_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"invite to {self.team} as {self.get_role_display()}"

    def state(self, now=None) -> str:
        from django.utils import timezone

        now = now or timezone.now()
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"
