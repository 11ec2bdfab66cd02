from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "analytics"

    def ready(self) -> None:
        from analytics import signals
        from analytics.demo import seed_demo_analytics
        from analytics.panel import score_panel_context
        from incidents import events
        from incidents.demo import register_demo_seeder
        from incidents.panels import IncidentPanel, register_panel

        # A resolved incident's first signal is stored once (the report's MTTD reads it).
        events.incident_resolved.connect(signals.on_resolved, dispatch_uid="analytics")

        register_panel(
            IncidentPanel(
                key="impact_score",
                title="Impact score",
                order=15,
                template="analytics/_score_panel.html",
                get_context=score_panel_context,
            )
        )
        register_demo_seeder(seed_demo_analytics, order=70)
