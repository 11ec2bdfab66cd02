"""Forms of the service catalogue pages. They turn request text into typed values and keep what
was typed; incidents.catalog checks the rules again (the API calls it too)."""

from __future__ import annotations

from django import forms
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from incidents.catalog import MAX_COST, MAX_DESCRIPTION, MAX_OBJECTIVE_MINUTES, SLUG_RE
from incidents.models import IntegrationKind, Severity


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise forms.ValidationError(_("NUL characters are not allowed."))
    return value


class ServiceForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, required=True, empty_label=None, label=_("Team"))
    name = forms.CharField(label=_("Name"), max_length=120)
    slug = forms.CharField(
        label=_("Slug"),
        max_length=64,
        required=False,
        help_text=_("Lower-case letters, digits and hyphens; in links and the API. "
                    "Empty: made from the name."),
    )  # fmt: skip
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    rto_minutes = forms.IntegerField(
        label=_("RTO (minutes)"),
        required=False,
        min_value=0,
        max_value=MAX_OBJECTIVE_MINUTES,
        help_text=_("Recovery time objective: the longest acceptable outage."),
    )
    rpo_minutes = forms.IntegerField(
        label=_("RPO (minutes)"),
        required=False,
        min_value=0,
        max_value=MAX_OBJECTIVE_MINUTES,
        help_text=_("Recovery point objective: the largest acceptable data-loss window."),
    )
    downtime_cost_per_hour = forms.DecimalField(
        label=_("Cost of one hour of outage"),
        required=False,
        min_value=0,
        max_value=MAX_COST,
        max_digits=12,
        decimal_places=2,
        initial=0,
    )
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, teams=None, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["team"]
            self.fields["slug"].required = True
            self.fields["slug"].help_text = _(
                "Changing the slug changes this page's address, board filters and API paths "
                "that name it (/api/v1/services/<slug>/...). Webhook URLs carry tokens and keep "
                "working."
            )
        else:
            self.fields["team"].queryset = teams

    def clean_name(self) -> str:
        return _no_nul(self.cleaned_data["name"].strip())

    def clean_description(self) -> str:
        return _no_nul(self.cleaned_data["description"])

    def clean(self):
        data = super().clean()
        slug = (data.get("slug") or "").strip().lower()
        if not slug and data.get("name"):
            slug = slugify(data["name"])[:64].strip("-")
        if "slug" not in self.errors and not SLUG_RE.match(slug or ""):
            self.add_error(
                "slug",
                _("Use lower-case letters, digits and single hyphens, e.g. chat-avatar."),
            )
        data["slug"] = slug
        if data.get("downtime_cost_per_hour") is None:
            data["downtime_cost_per_hour"] = 0
        return data


class IntegrationForm(forms.Form):
    kind = forms.ChoiceField(label=_("Sender"), choices=IntegrationKind.choices)
    name = forms.CharField(label=_("Name"), max_length=120)
    default_severity = forms.TypedChoiceField(
        label=_("Severity when the sender gives none"),
        choices=[(s.value, f"{s.value} — {s.label}") for s in reversed(Severity)],
        coerce=int,
        initial=Severity.SIGNIFICANT,
    )
    auto_resolve = forms.BooleanField(
        label=_("Resolve the incident when all its alerts resolve"), required=False, initial=True
    )
    hmac_secret = forms.CharField(
        label=_("Grafana signature secret (optional)"),
        required=False,
        max_length=255,
        help_text=_("Grafana only: the contact point's HMAC secret; empty turns the check off."),
    )

    def clean_name(self) -> str:
        return _no_nul(self.cleaned_data["name"].strip())

    def clean_hmac_secret(self) -> str:
        return _no_nul(self.cleaned_data["hmac_secret"])


class RotateTokenForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("Old token keeps working for (hours)"), min_value=0, max_value=168, initial=24
    )
