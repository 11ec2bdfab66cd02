from django.contrib import admin

from monitoring.models import Heartbeat, HeartbeatPing, Probe, ProbeResult, ProbeRollup


@admin.register(Probe)
class ProbeAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "service",
        "method",
        "url",
        "state",
        "interval_seconds",
        "paused",
        "last_checked_at",
    )
    list_filter = ("state", "paused", "service__team")
    search_fields = ("name", "url", "service__name")
    readonly_fields = (
        "state", "consecutive_failures", "consecutive_slow", "consecutive_successes",
        "last_checked_at", "last_latency_ms", "last_status_code", "last_error", "state_changed_at",
    )  # fmt: skip
    list_select_related = ("service",)


@admin.register(ProbeResult)
class ProbeResultAdmin(admin.ModelAdmin):
    list_display = ("probe", "at", "ok", "latency_ms", "status_code", "error")
    list_filter = ("ok", "error")
    list_select_related = ("probe",)
    raw_id_fields = ("probe",)
    date_hierarchy = "at"


@admin.register(ProbeRollup)
class ProbeRollupAdmin(admin.ModelAdmin):
    list_display = (
        "probe",
        "hour",
        "runs",
        "failures",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
    )
    list_select_related = ("probe",)
    raw_id_fields = ("probe",)


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "service",
        "uuid",
        "state",
        "period_seconds",
        "grace_seconds",
        "last_ping_at",
        "alert_after",
    )
    list_filter = ("state", "service__team")
    search_fields = ("name", "uuid", "service__name")
    readonly_fields = (
        "uuid",
        "state",
        "alert_after",
        "last_ping_at",
        "last_start_at",
        "last_exit_status",
        "ping_count",
    )
    list_select_related = ("service",)


@admin.register(HeartbeatPing)
class HeartbeatPingAdmin(admin.ModelAdmin):
    list_display = ("heartbeat", "at", "kind", "exit_status", "method", "remote_addr")
    list_filter = ("kind",)
    raw_id_fields = ("heartbeat",)
    list_select_related = ("heartbeat",)
