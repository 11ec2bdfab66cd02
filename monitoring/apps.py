from django.apps import AppConfig
from django.conf import settings


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"
    periodic_tasks = {
        "schedule-due-probes": (
            "monitoring.tasks.schedule_due_probes",
            settings.PROBE_SCHEDULER_TICK_SECONDS,
        ),
        "sweep-overdue-heartbeats": ("monitoring.tasks.sweep_overdue_heartbeats", 10),
        "rollup-probe-results": ("monitoring.tasks.rollup_probe_results", 300),
        "purge-old-probe-results": ("monitoring.tasks.purge_old_probe_results", 3600),
    }

    def ready(self) -> None:
        from incidents.service_facts import register_service_facts
        from monitoring.service_facts import monitor_facts

        register_service_facts(monitor_facts)
        from incidents.demo import register_demo_seeder
        from monitoring.demo import seed_demo_monitors

        register_demo_seeder(seed_demo_monitors, order=10)
        from config.health import register_readiness_check
        from monitoring.stats import scheduler_problem

        register_readiness_check("probe_scheduler", scheduler_problem)
        from incidents.catalog import register_archive_hook
        from incidents.service_sections import ServiceSection, register_service_section
        from monitoring.configure import pause_monitors_of_service
        from monitoring.pages import monitors_section

        register_archive_hook(pause_monitors_of_service)
        register_service_section(
            ServiceSection(
                key="monitors",
                title="Probes and heartbeats",
                order=30,
                template="monitoring/_service_section.html",
                get_context=monitors_section,
            )
        )
