from django.contrib import admin

from runbooks.models import ActionRun, Runbook, RunbookRevision, RunbookRun, RunbookStep


class StepInline(admin.TabularInline):
    model = RunbookStep
    extra = 0
    exclude = ["action_secret"]


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "is_active", "version", "next_review_at"]
    list_filter = ["team", "is_active"]
    search_fields = ["title"]
    inlines = [StepInline]
    readonly_fields = ["version", "next_review_at", "last_reviewed_at", "last_reviewed_by"]


@admin.register(RunbookRevision)
class RunbookRevisionAdmin(admin.ModelAdmin):
    list_display = ["runbook", "number", "author", "created_at"]
    readonly_fields = ["runbook", "number", "author", "created_at", "note", "content"]


@admin.register(RunbookRun)
class RunbookRunAdmin(admin.ModelAdmin):
    list_display = ["runbook", "incident", "reason", "attached_at"]
    raw_id_fields = ["incident"]


@admin.register(ActionRun)
class ActionRunAdmin(admin.ModelAdmin):
    list_display = ["step", "run", "state", "automatic", "requested_at", "response_status"]
    list_filter = ["state", "automatic"]
    raw_id_fields = ["run"]
