import logging

from django.apps import AppConfig

log = logging.getLogger(__name__)


def _attach_on_open(sender, incident_id, **kwargs):
    from runbooks.services import attach_matching_runbooks

    attach_matching_runbooks(incident_id=incident_id)


class RunbooksConfig(AppConfig):
    name = "runbooks"
    default_auto_field = "django.db.models.BigAutoField"
    periodic_tasks = {
        "runbooks-sweep-action-runs": ("runbooks.tasks.sweep_action_runs", 60),
    }

    def ready(self) -> None:
        from incidents.demo import register_demo_seeder
        from runbooks.demo import seed_demo_runbooks

        register_demo_seeder(seed_demo_runbooks, order=20)
        from incidents import events
        from incidents.knowledge import register_search_source
        from incidents.panels import IncidentPanel, register_panel
        from runbooks.panel import runbook_panel_context
        from runbooks.search import search_runbooks

        # Matching is a couple of indexed queries, cheap enough to run right after the commit;
        # a severity change or reopen may make more runbooks match, attaching is idempotent.
        for signal in (
            events.incident_opened,
            events.incident_severity_changed,
            events.incident_reopened,
        ):
            signal.connect(_attach_on_open, dispatch_uid=f"runbooks-attach-{id(signal)}")
        register_panel(
            IncidentPanel(
                key="runbooks",
                title="Runbooks",
                order=20,
                template="runbooks/_incident_panel.html",
                get_context=runbook_panel_context,
            )
        )
        register_search_source("runbooks", search_runbooks)
        from incidents.service_sections import ServiceSection, register_service_section
        from runbooks.service_section import runbooks_section

        register_service_section(
            ServiceSection(
                key="runbooks",
                title="Runbooks",
                order=40,
                template="runbooks/_service_section.html",
                get_context=runbooks_section,
            )
        )
