from django.contrib import admin

from incidents.models import Incident, Service, TimelineEntry


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "slug", "rto_minutes", "rpo_minutes", "downtime_cost_per_hour")
    list_filter = ("team",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}


class TimelineInline(admin.TabularInline):
    model = TimelineEntry
    extra = 0
    fields = ("at", "kind", "actor_kind", "actor_label", "message")
    readonly_fields = fields
    can_delete = False
    ordering = ("-at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """Read mostly: state changes belong to the services (and the UI), which write the timeline."""

    list_display = (
        "reference",
        "title",
        "service",
        "severity",
        "status",
        "triggered_at",
        "is_drill",
    )
    list_filter = ("status", "severity", "source", "is_drill", "team", "service")
    search_fields = ("title", "summary", "dedup_key")
    date_hierarchy = "triggered_at"
    list_select_related = ("service",)
    readonly_fields = (
        "status",
        "triggered_at",
        "acknowledged_at",
        "acknowledged_by",
        "mitigated_at",
        "resolved_at",
        "resolved_by",
        "reopened_at",
        "reopen_count",
        "repeat_count",
        "last_seen_at",
        "updated_at",
        "team",
        "created_by",
    )
    raw_id_fields = ("assignee",)
    inlines = [TimelineInline]

    @admin.display(description="number", ordering="id")
    def reference(self, obj):
        return obj.reference


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    list_display = ("at", "incident", "kind", "actor_kind", "actor_label", "message")
    list_filter = ("kind", "actor_kind")
    search_fields = ("message", "actor_label")
    list_select_related = ("incident",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
