from django.apps import AppConfig
from django.conf import settings


class OpsConfig(AppConfig):
    """Vigil's own operations: backups with proven restore, the RPO guard, self-watch."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Operations of Vigil itself"
    periodic_tasks = {
        "ops-selfwatch": ("ops.tasks.selfwatch_tick", settings.SELFWATCH_INTERVAL_SECONDS),
        "ops-rpo-guard": ("ops.tasks.check_rpo", settings.RPO_GUARD_INTERVAL_SECONDS),
        **(
            {"ops-backup": ("ops.tasks.backup", settings.BACKUP_INTERVAL_HOURS * 3600)}
            if settings.BACKUP_INTERVAL_HOURS
            else {}
        ),
    }

    def ready(self) -> None:
        from celery.signals import before_task_publish

        from config.health import register_readiness_check
        from incidents import events
        from ops import checks, metrics, selfwatch  # noqa: F401 (checks and metrics register)

        for name in ("beat", "workers", "ingest_backlog"):
            register_readiness_check(name, selfwatch.readiness_check(name), advisory=True)
        before_task_publish.connect(_note_tick_publish, dispatch_uid="ops-selfwatch")
        events.incident_resolved.connect(_rpo_postmortem_window, dispatch_uid="ops-rpo")


def _note_tick_publish(sender=None, **kwargs) -> None:
    """Runs in the publishing process: for the self-watch tick, that is beat itself."""
    from ops import selfwatch

    if sender == selfwatch.TICK_TASK:
        selfwatch.note_beat_publish()


def _rpo_postmortem_window(sender, incident_id, **kwargs) -> None:
    from ops.receivers import fill_data_loss_window

    fill_data_loss_window(incident_id=incident_id)
