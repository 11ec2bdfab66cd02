from django.apps import AppConfig
from django.conf import settings


class StatuspageConfig(AppConfig):
    name = "statuspage"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Status pages"
    periodic_tasks = {
        "statuspage-sweep": ("statuspage.tasks.sweep", settings.STATUSPAGE_SWEEP_SECONDS),
    }

    def ready(self) -> None:
        from incidents import events, suppression
        from incidents.demo import register_demo_seeder
        from incidents.panels import IncidentPanel, register_panel
        from oncall.delivery import register_purpose_sender
        from statuspage import metrics, receivers  # noqa: F401 (metrics registers its source)
        from statuspage.demo import seed_demo_statuspage
        from statuspage.panel import statuspage_panel_context
        from statuspage.services import maintenance, subscribers

        uid = "statuspage"
        events.incident_opened.connect(receivers.on_opened, dispatch_uid=uid)
        events.incident_severity_changed.connect(receivers.on_severity_changed, dispatch_uid=uid)
        events.incident_resolved.connect(receivers.on_resolved, dispatch_uid=uid)
        events.incident_reopened.connect(receivers.on_reopened, dispatch_uid=uid)
        # A merged duplicate is resolved: its component state and public updates follow.
        events.incident_merged.connect(receivers.on_resolved, dispatch_uid=uid)

        register_panel(
            IncidentPanel(
                key="statuspage",
                title="Status page",
                template="statuspage/_incident_panel.html",
                get_context=statuspage_panel_context,
                order=15,
            )
        )
        register_demo_seeder(seed_demo_statuspage, order=40)
        register_purpose_sender(
            subscribers.PURPOSE, subscribers.send_to_subscriber, in_timeline=False
        )
        suppression.register_suppressor(maintenance.suppress_during_maintenance)
        suppression.register_clear_listener(maintenance.forget_recovered)
