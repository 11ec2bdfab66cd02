"""Operations data: which heartbeats report a service's backups (the RPO guard watches them)."""

from __future__ import annotations

from django.db import models

from monitoring.models import Heartbeat


class BackupJob(models.Model):
    """Marks a heartbeat as one of its service's backup jobs (model weights, training data,
    configuration, Vigil's own database...). The job pings ``/ping/<uuid>`` after each good
    backup; the RPO guard compares the age of the last good ping with the service's RPO."""

    heartbeat = models.OneToOneField(Heartbeat, on_delete=models.CASCADE, related_name="backup_job")
    what = models.CharField(
        max_length=120, blank=True, help_text="What is backed up (e.g. model weights, CRM data)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"backup job {self.heartbeat}"

    @property
    def dedup_key(self) -> str:
        return f"rpo:{self.heartbeat_id}"
