from django.apps import AppConfig


def _link_drill_incident(sender, incident_id, **kwargs):
    from drills.services import link_drill_incident

    link_drill_incident(incident_id=incident_id)


class DrillsConfig(AppConfig):
    name = "drills"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "game days"
    periodic_tasks = {"run-due-drills": ("drills.tasks.run_due_drills", 15)}

    def ready(self) -> None:
        from drills import services
        from drills.demo import seed_demo_drills
        from drills.panel import drill_panel_context
        from incidents import events
        from incidents.demo import register_demo_seeder
        from incidents.panels import IncidentPanel, register_panel
        from monitoring import injection

        injection.register_probe_injector(services.inject_probe_outcomes)
        injection.register_heartbeat_drill(services.heartbeat_silenced)
        events.incident_opened.connect(_link_drill_incident, dispatch_uid="drills-link")
        register_panel(
            IncidentPanel(
                key="drill",
                title="Drill",
                order=1,
                template="drills/_incident_panel.html",
                get_context=drill_panel_context,
            )
        )
        register_demo_seeder(seed_demo_drills, order=80)
