from django.contrib import admin

from ops.models import BackupJob


@admin.register(BackupJob)
class BackupJobAdmin(admin.ModelAdmin):
    list_display = ["heartbeat", "what", "created_at"]
    raw_id_fields = ["heartbeat"]
