from django.contrib import admin

from oncall.models import (
    AckLink,
    AutomatedAction,
    Channel,
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    EscalationState,
    Notification,
    Override,
    Rotation,
    RotationMember,
    ServiceEscalation,
)


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fields = ["user", "start", "end"]


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone", "shift_hours", "handoff_time", "start_date"]
    list_filter = ["team"]
    inlines = [RotationMemberInline, OverrideInline]


class EscalationLevelInline(admin.StackedInline):
    model = EscalationLevel
    extra = 0
    filter_horizontal = ["users", "channels"]


class ServiceEscalationInline(admin.TabularInline):
    model = ServiceEscalation
    extra = 0


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_team_default", "repeat_last_level"]
    list_filter = ["team"]
    inlines = [EscalationLevelInline, ServiceEscalationInline]


@admin.register(AutomatedAction)
class AutomatedActionAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "url"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "target", "is_active"]
    list_filter = ["team", "kind"]


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "target", "is_active"]


@admin.register(EscalationState)
class EscalationStateAdmin(admin.ModelAdmin):
    list_display = ["incident", "status", "current_level", "next_due_at", "series"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in EscalationState._meta.fields]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["incident", "level", "kind", "label", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.register(AckLink)
class AckLinkAdmin(admin.ModelAdmin):
    list_display = ["incident", "recipient", "expires_at", "used_at"]
    exclude = ["nonce"]
