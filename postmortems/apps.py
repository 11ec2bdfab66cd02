from django.apps import AppConfig


def _draft_on_resolve(sender, incident_id, **kwargs):
    from postmortems.services import draft_on_resolve

    draft_on_resolve(incident_id=incident_id)


class PostmortemsConfig(AppConfig):
    name = "postmortems"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.demo import register_demo_seeder
        from postmortems.demo import seed_demo_postmortems

        register_demo_seeder(seed_demo_postmortems, order=30)
        from incidents import events
        from incidents.knowledge import register_search_source
        from incidents.panels import IncidentPanel, register_panel
        from postmortems.panel import postmortem_panel_context
        from postmortems.search import search_postmortems

        events.incident_resolved.connect(_draft_on_resolve, dispatch_uid="postmortems-draft")
        register_panel(
            IncidentPanel(
                key="postmortem",
                title="Post-mortem",
                order=60,
                template="postmortems/_incident_panel.html",
                get_context=postmortem_panel_context,
            )
        )
        register_search_source("postmortems", search_postmortems)
        from incidents.service_sections import ServiceSection, register_service_section
        from postmortems.service_section import postmortems_section

        register_service_section(
            ServiceSection(
                key="postmortems",
                title="Recent post-mortems",
                order=50,
                template="postmortems/_service_section.html",
                get_context=postmortems_section,
            )
        )
