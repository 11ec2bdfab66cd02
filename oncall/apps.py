from django.apps import AppConfig
from django.conf import settings


class OncallConfig(AppConfig):
    name = "oncall"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "On-call and escalation"
    periodic_tasks = {
        "oncall-sweep": ("oncall.tasks.sweep", settings.ONCALL_SWEEP_SECONDS),
        "oncall-audit": ("oncall.tasks.audit_escalations", settings.ONCALL_AUDIT_SECONDS),
    }

    def ready(self) -> None:
        from incidents.demo import register_demo_seeder
        from oncall.demo import seed_demo_oncall

        register_demo_seeder(seed_demo_oncall, order=5)
        from incidents import events
        from incidents.panels import IncidentPanel, register_panel
        from oncall import receivers
        from oncall.panels import escalation_panel_context

        register_panel(
            IncidentPanel(
                key="escalation",
                title="Escalation and notifications",
                template="oncall/_incident_panel.html",
                get_context=escalation_panel_context,
                order=10,
            )
        )

        uid = "oncall"
        events.incident_opened.connect(receivers.on_opened, dispatch_uid=uid)
        events.incident_acknowledged.connect(receivers.on_acknowledged, dispatch_uid=uid)
        events.incident_mitigated.connect(receivers.on_mitigated, dispatch_uid=uid)
        events.incident_resolved.connect(receivers.on_resolved, dispatch_uid=uid)
        events.incident_reopened.connect(receivers.on_reopened, dispatch_uid=uid)
        events.incident_severity_changed.connect(receivers.on_severity_changed, dispatch_uid=uid)
        events.incident_escalation_requested.connect(
            receivers.on_escalation_requested, dispatch_uid=uid
        )
        events.incident_merged.connect(receivers.on_merged, dispatch_uid=uid)
        events.incident_snooze_expired.connect(receivers.on_snooze_expired, dispatch_uid=uid)
        from incidents.service_sections import ServiceSection, register_service_section
        from oncall.pages import escalation_section

        register_service_section(
            ServiceSection(
                key="escalation",
                title="Escalation policy",
                order=15,
                template="oncall/_service_section.html",
                get_context=escalation_section,
            )
        )
        from accounts.services import register_member_removal_hook
        from oncall.configure.members import forget_removed_member

        register_member_removal_hook(forget_removed_member)
