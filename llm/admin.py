"""Admin for model endpoints: the credential is write-only here too (never displayed)."""

from django import forms
from django.contrib import admin

from llm.models import LlmPolicy, ModelEndpoint, RouteChange, RouteState, RouteSubscriber


class ModelEndpointForm(forms.ModelForm):
    new_credential = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored credential. It is never shown again.",
    )

    class Meta:
        model = ModelEndpoint
        fields = [
            "service", "name", "provider", "base_url", "model", "tier", "credential_env",
            "price_in_per_1k", "price_out_per_1k", "enabled", "slow_call_ms",
            "slow_rate_threshold", "failure_rate_threshold", "window_seconds", "minimum_calls",
            "open_wait_seconds", "half_open_calls", "probe_enabled", "probe_interval_seconds",
            "probe_timeout_seconds", "probe_prompt", "probe_expect",
        ]  # fmt: skip

    def save(self, commit=True):
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("new_credential"):
            endpoint.set_credential(self.cleaned_data["new_credential"])
        if commit:
            endpoint.save()
        return endpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    form = ModelEndpointForm
    list_display = ["name", "service", "tier", "provider", "model", "breaker_state", "enabled"]
    list_filter = ["provider", "breaker_state", "enabled"]
    search_fields = ["name", "model", "service__slug"]
    readonly_fields = [
        "breaker_state", "breaker_changed_at", "breaker_reason", "half_open_passed",
        "last_probe_at", "last_latency_ms", "last_ttft_ms", "last_outcome", "credential_stored",
    ]  # fmt: skip

    @admin.display(description="credential stored", boolean=True)
    def credential_stored(self, obj):
        return bool(obj.credential_encrypted)


@admin.register(RouteState)
class RouteStateAdmin(admin.ModelAdmin):
    list_display = ["service", "tier", "endpoint", "since", "reason"]
    readonly_fields = ["service", "tier", "endpoint", "since", "reason", "version"]


@admin.register(RouteChange)
class RouteChangeAdmin(admin.ModelAdmin):
    list_display = ["service", "at", "from_tier", "to_tier", "reason"]
    list_filter = ["service"]


@admin.register(RouteSubscriber)
class RouteSubscriberAdmin(admin.ModelAdmin):
    list_display = ["service", "url", "active"]
    exclude = ["secret"]


admin.site.register(LlmPolicy)
