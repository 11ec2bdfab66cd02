from django.apps import AppConfig
from django.conf import settings


class IncidentsConfig(AppConfig):
    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    @property
    def periodic_tasks(self) -> dict:
        return {
            "ingest-sweep": ("incidents.tasks.sweep_inbound_events", settings.INGEST_SWEEP_SECONDS),
            "events-redispatch": (
                "incidents.tasks.redispatch_events",
                settings.EVENTS_SWEEP_SECONDS,
            ),
            "events-prune": ("incidents.tasks.prune_dispatched_events", 3600),
            "snooze-wake": (
                "incidents.tasks.wake_snoozed_incidents",
                settings.SNOOZE_SWEEP_SECONDS,
            ),
        }

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from incidents.ingest.panel import register_alerts_panel
        from incidents.ingest.services import forget_cached_integrations
        from incidents.models import Integration

        register_alerts_panel()
        for signal in (post_save, post_delete):
            signal.connect(
                lambda **kwargs: forget_cached_integrations(),
                sender=Integration,
                weak=False,
                dispatch_uid=f"ingest-forget-integrations-{signal is post_save}",
            )
        from incidents.service_sections import ServiceSection, register_service_section
        from incidents.views.catalog import integrations_section, open_incidents_section

        register_service_section(
            ServiceSection(
                key="open-incidents",
                title="Open incidents",
                order=10,
                template="incidents/_section_open_incidents.html",
                get_context=open_incidents_section,
            )
        )
        register_service_section(
            ServiceSection(
                key="integrations",
                title="Integrations",
                order=20,
                template="incidents/_section_integrations.html",
                get_context=integrations_section,
            )
        )
