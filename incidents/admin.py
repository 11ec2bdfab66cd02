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


# --- alert ingestion ----------------------------------------------------------------------

from django.contrib import messages  # noqa: E402

from incidents.models import Alert, InboundEvent, Integration  # noqa: E402


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """Creating one shows its token once, in the success message; only its hash is kept."""

    list_display = ("name", "kind", "service", "is_active", "auto_resolve", "token_prefix")
    list_filter = ("kind", "is_active", "service__team")
    search_fields = ("name", "token_prefix", "service__name")
    readonly_fields = ("token_prefix", "created_at")
    list_select_related = ("service",)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        from incidents.actors import Actor
        from incidents.ingest.services import create_integration, hook_url

        created, token = create_integration(
            service=obj.service,
            kind=obj.kind,
            name=obj.name,
            actor=Actor.of_request(request),
            auto_resolve=obj.auto_resolve,
            hmac_secret=obj.hmac_secret,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            severity_mapping=obj.severity_mapping,
        )
        # Carry the form's remaining settings over to the row the service created.
        for field in ("signature_header", "timestamp_header", "default_severity", "is_active"):
            setattr(created, field, getattr(obj, field))
        created.save(
            update_fields=["signature_header", "timestamp_header", "default_severity", "is_active"]
        )
        obj.pk = created.pk
        messages.warning(
            request,
            f"Token (shown only now): {token} — URL: {hook_url(created, token)}",
        )


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("fingerprint", "summary", "status", "severity", "incident", "count")
    list_filter = ("status", "severity", "integration__kind")
    search_fields = ("fingerprint", "summary")
    list_select_related = ("incident",)
    raw_id_fields = ("incident", "integration")

    def has_add_permission(self, request):
        return False


class ParkedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "pending"), ("applied", "applied"), ("parked", "parked")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.pending()
        if self.value() == "applied":
            return queryset.filter(processed_at__isnull=False, parked_at__isnull=True)
        if self.value() == "parked":
            return queryset.parked()
        return queryset


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """Deliveries as received; parked ones (applying failed every attempt) under state=parked.
    Routing keys are redacted from the raw body shown, also in rows stored before redaction."""

    list_display = (
        "id", "integration", "received_at", "processed_at", "parked_at", "attempts", "incident",
    )  # fmt: skip
    list_filter = (ParkedFilter, "integration__kind")
    fields = readonly_fields = [
        "integration", "received_at", "processed_at", "parked_at", "attempts", "error",
        "incident", "raw_truncated", "raw_body_redacted", "normalized",
    ]  # fmt: skip
    list_select_related = ("integration", "incident")

    @admin.display(description="raw body")
    def raw_body_redacted(self, obj):
        from incidents.ingest.payload import redact_routing_keys

        return redact_routing_keys(obj.raw_body)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


from incidents.models import EventDispatch  # noqa: E402


@admin.register(EventDispatch)
class EventDispatchAdmin(admin.ModelAdmin):
    """The domain-event outbox, one row per receiver: see what is pending or failing, retry."""

    list_display = (
        "id",
        "event",
        "receiver",
        "entry",
        "created_at",
        "dispatched_at",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("event", "receiver", ("dispatched_at", admin.EmptyFieldListFilter))
    search_fields = ("receiver", "last_error")
    readonly_fields = [f.name for f in EventDispatch._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry the selected undispatched events at the next sweep")
    def retry_now(self, request, queryset):
        from django.utils import timezone

        n = queryset.filter(dispatched_at=None).update(next_attempt_at=timezone.now())
        self.message_user(request, f"{n} event(s) will be retried at the next sweep.")
