from django.contrib import admin

from postmortems.models import ActionItem, ContributingFactor, PostMortem, WhyNode


class WhyInline(admin.TabularInline):
    model = WhyNode
    extra = 0
    fk_name = "postmortem"


class FactorInline(admin.TabularInline):
    model = ContributingFactor
    extra = 0


class ItemInline(admin.TabularInline):
    model = ActionItem
    extra = 0
    raw_id_fields = ["owner"]


@admin.register(PostMortem)
class PostMortemAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "status", "created_at", "published_at"]
    list_filter = ["status", "team"]
    search_fields = ["title"]
    raw_id_fields = ["incident"]
    inlines = [WhyInline, FactorInline, ItemInline]
    readonly_fields = ["timeline_snapshot", "alerts_snapshot"]


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    list_display = ["title", "postmortem", "owner", "due_date", "priority", "status"]
    list_filter = ["status", "priority"]
    raw_id_fields = ["owner", "postmortem"]
