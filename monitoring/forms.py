"""Forms of the monitor set-up pages: the model's own validators and ``clean`` (as the API), plus
the SSRF guard's verdict next to the URL field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.configure import HEARTBEAT_FIELDS, PROBE_FIELDS, outbound_problem
from monitoring.models import Heartbeat, Probe


class _NoNul:
    def clean(self):
        data = super().clean()
        for name, value in list(data.items()):
            if isinstance(value, str) and "\x00" in value:
                self.add_error(name, _("NUL characters are not allowed."))
        return data


class ProbeForm(_NoNul, forms.ModelForm):
    version = forms.CharField(required=False, widget=forms.HiddenInput)
    url = forms.URLField(
        label=_("URL"),
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://avatar.example.com/health"}),
    )
    headers = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_('JSON object of strings, e.g. {"Accept": "application/json"}.'),
    )

    class Meta:
        model = Probe
        fields = list(PROBE_FIELDS)
        widgets = {
            "body": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "latency_threshold_ms": _("Slower answers count as degraded (default 3000 ms)."),
            "failures_to_open": _("Failed checks in a row before an incident opens."),
            "interval_seconds": _("At least 10 seconds."),
        }

    def clean_headers(self):
        return self.cleaned_data.get("headers") or {}

    def clean_url(self):
        url = self.cleaned_data["url"]
        problem = outbound_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in PROBE_FIELDS}


class HeartbeatForm(_NoNul, forms.ModelForm):
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Heartbeat
        fields = list(HEARTBEAT_FIELDS)
        help_texts = {
            "period_seconds": _("How often the job runs: 86400 = daily (at least 60)."),
            "grace_seconds": _("How late a ping may be before the heartbeat is down."),
        }

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in HEARTBEAT_FIELDS}


class MonitorFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    state = forms.ChoiceField(
        required=False,
        label=_("State"),
        choices=[("", _("any state")), ("new", "new"), ("up", "up"), ("degraded", "degraded"),
                 ("down", "down"), ("paused", "paused")],
    )  # fmt: skip
    service = forms.SlugField(required=False, max_length=64, label=_("Service"))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
