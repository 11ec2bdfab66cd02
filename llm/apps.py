from django.apps import AppConfig


class LlmConfig(AppConfig):
    name = "llm"
    verbose_name = "LLM failover and telemetry"
    default_auto_field = "django.db.models.BigAutoField"
    periodic_tasks = {
        "llm-sweep-breakers": ("llm.tasks.sweep_breakers", 5),
        "llm-route-webhooks": ("llm.tasks.sweep_route_deliveries", 15),
        "llm-rollup": ("llm.tasks.rollup_telemetry", 60),
        "llm-budgets": ("llm.tasks.check_budgets", 60),
        "llm-anomalies": ("llm.tasks.check_anomalies", 300),
        "llm-baselines": ("llm.tasks.record_hours_and_baselines", 3600),
        "llm-purge": ("llm.tasks.purge_old_telemetry", 3600),
    }

    def ready(self) -> None:
        from incidents.demo import register_demo_seeder
        from llm import breaker, fastpath, probes

        fastpath.connect_signals()
        from llm.demo import seed_demo_models

        register_demo_seeder(seed_demo_models, order=60)
        from incidents.service_sections import ServiceSection, register_service_section
        from llm.service_section import model_endpoints_section

        register_service_section(
            ServiceSection(
                key="model-endpoints",
                title="Model endpoints",
                order=35,
                template="llm/_service_section.html",
                get_context=model_endpoints_section,
            )
        )
        from monitoring.probe_kinds import ProbeKind, register_probe_kind

        register_probe_kind(
            ProbeKind(
                key="model",
                claim_due=breaker.claim_due_probes,
                load=breaker.load_probe_specs,
                check=probes.run_model_check,
                record=breaker.record_probe_outcomes,
            )
        )
