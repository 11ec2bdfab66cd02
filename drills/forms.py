"""Scheduling a drill: request text -> typed values; the service checks the domain rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from drills.models import MAX_DURATION_MINUTES, MAX_LATENCY_MS, Scenario
from incidents.models import Alert, Service
from monitoring.models import Heartbeat, Probe


class ScheduleDrillForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True, label=_("Name"))
    service = forms.ModelChoiceField(queryset=Service.objects.none(), label=_("Service"))
    scenario = forms.ChoiceField(choices=Scenario.choices, label=_("Scenario"))
    probe = forms.ModelChoiceField(queryset=Probe.objects.none(), required=False,
                                   label=_("Probe (probe scenarios)"))  # fmt: skip
    heartbeat = forms.ModelChoiceField(queryset=Heartbeat.objects.none(), required=False,
                                       label=_("Heartbeat (heartbeat scenario)"))  # fmt: skip
    alert = forms.ModelChoiceField(queryset=Alert.objects.none(), required=False,
                                   label=_("Recorded alert (replay scenario)"))  # fmt: skip
    latency_ms = forms.IntegerField(min_value=1, max_value=MAX_LATENCY_MS, required=False,
                                    label=_("Injected latency, ms"))  # fmt: skip
    starts_at = forms.DateTimeField(
        required=False,
        label=_("Starts at (empty: now)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=MAX_DURATION_MINUTES, initial=30,
                                          label=_("Duration, minutes"))  # fmt: skip
    start_now = forms.BooleanField(required=False, initial=True, label=_("Start right away"))

    def __init__(self, *args, team_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.filter(team_id__in=team_ids)
        self.fields["probe"].queryset = Probe.objects.filter(service__team_id__in=team_ids)
        self.fields["heartbeat"].queryset = Heartbeat.objects.filter(service__team_id__in=team_ids)
        # The 50 latest real alerts: enough to pick a recording, small enough for a <select>.
        latest = list(
            Alert.objects.filter(incident__team_id__in=team_ids, incident__is_drill=False)
            .order_by("-first_seen_at")
            .values_list("pk", flat=True)[:50]
        )
        self.fields["alert"].queryset = Alert.objects.filter(pk__in=latest).order_by(
            "-first_seen_at"
        )

    def clean_starts_at(self):
        value = self.cleaned_data.get("starts_at")
        if value is not None and not 1970 <= value.year <= 2100:
            raise forms.ValidationError(_("Give a time between 1970 and 2100."))
        return value
