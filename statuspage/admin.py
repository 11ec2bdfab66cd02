from django.contrib import admin

from statuspage.cache import invalidate_pages
from statuspage.models import (
    CommunicationTemplate,
    Component,
    ComponentGroup,
    MaintenanceWindow,
    PublicIncident,
    StatusPage,
    Subscriber,
    SuppressedOpening,
)
from statuspage.services.templates import check_placeholders


class InvalidatingAdmin(admin.ModelAdmin):
    """Edits in the admin show on the public page at once, not only after the cache expires."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        page = obj if isinstance(obj, StatusPage) else getattr(obj, "page", None)
        if page is not None:
            invalidate_pages([page.slug])


@admin.register(StatusPage)
class StatusPageAdmin(InvalidatingAdmin):
    list_display = ["title", "slug", "team", "is_public", "auto_post_first_update"]
    list_filter = ["team", "is_public"]


@admin.register(ComponentGroup)
class ComponentGroupAdmin(InvalidatingAdmin):
    list_display = ["name", "page", "position"]


@admin.register(Component)
class ComponentAdmin(InvalidatingAdmin):
    list_display = ["name", "page", "group", "derived_status", "override_status", "override_until"]
    list_filter = ["page"]
    filter_horizontal = ["services"]


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "min_severity", "max_severity", "match_cause", "is_active"]
    filter_horizontal = ["services"]

    def save_model(self, request, obj, form, change):
        check_placeholders(
            title=obj.title, body=obj.body, workaround=obj.workaround,
            degradation_message=obj.degradation_message,
        )  # fmt: skip
        super().save_model(request, obj, form, change)


@admin.register(PublicIncident)
class PublicIncidentAdmin(InvalidatingAdmin):
    list_display = ["name", "page", "incident", "status", "published_at", "resolved_at"]


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["page", "kind", "created_at", "confirmed_at", "unsubscribed_at"]
    exclude = ["secret"]


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(InvalidatingAdmin):
    list_display = ["title", "page", "status", "starts_at", "ends_at"]


@admin.register(SuppressedOpening)
class SuppressedOpeningAdmin(admin.ModelAdmin):
    list_display = ["title", "service", "window", "count", "last_at", "cleared_at", "released_at"]
