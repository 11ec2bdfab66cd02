from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from llm.models import MAX_TIER, Provider


class EndpointForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    provider = forms.ChoiceField(label=_("Provider"), choices=Provider.choices)
    base_url = forms.URLField(
        label=_("Base URL"), max_length=500, assume_scheme="https",
        help_text=_("OpenAI-compatible: ends in /v1. Local servers need PROBE_ALLOWED_NETWORKS."),
    )  # fmt: skip
    model = forms.CharField(label=_("Model"), max_length=200)
    tier = forms.IntegerField(label=_("Tier"), min_value=1, max_value=MAX_TIER, initial=1)
    credential = forms.CharField(
        label=_("API key"), required=False, max_length=4000,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted and never shown again."),
    )  # fmt: skip
    credential_env = forms.RegexField(
        label=_("…or environment variable"), required=False, max_length=120,
        regex=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )  # fmt: skip
    price_in_per_1k = forms.DecimalField(
        label=_("Price per 1k input tokens"), min_value=0, max_digits=12, decimal_places=6,
        initial=0,
    )  # fmt: skip
    price_out_per_1k = forms.DecimalField(
        label=_("Price per 1k output tokens"), min_value=0, max_digits=12, decimal_places=6,
        initial=0,
    )  # fmt: skip
    slow_call_ms = forms.IntegerField(
        label=_("Slow call threshold (ms)"), min_value=1, max_value=600_000, initial=3000
    )


class PolicyForm(forms.Form):
    degradation_message = forms.CharField(
        label=_("Degradation message"), max_length=1000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What the avatar says when no model tier is available."),
    )  # fmt: skip
    daily_budget = forms.DecimalField(
        label=_("Daily model budget"), required=False, min_value=0, max_digits=14,
        decimal_places=4,
    )  # fmt: skip
    budget_warning_percent = forms.IntegerField(
        label=_("Warn at (% of budget)"), min_value=1, max_value=100, initial=80
    )
    anomaly_detection = forms.BooleanField(label=_("Anomaly detection"), required=False)
