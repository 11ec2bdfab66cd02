from django.apps import AppConfig
from django.conf import settings


class IncidentsConfig(AppConfig):
    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    @property
    def periodic_tasks(self) -> dict:
        return {
            "ingest-sweep": ("incidents.tasks.sweep_inbound_events", settings.INGEST_SWEEP_SECONDS)
        }

    def ready(self) -> None:
        from incidents.ingest.panel import register_alerts_panel

        register_alerts_panel()
