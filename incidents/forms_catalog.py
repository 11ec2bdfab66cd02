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


NEW_WORD_ROWS = 3


def mapping_rows(integration) -> list[dict]:
    """The words the integration's sender uses (and any it maps on its own), each with the
    severity it gets by default and here: what the integration page shows."""
    from incidents.ingest.payload import DEFAULT_SEVERITY_WORDS, SENDER_SEVERITY_WORDS
    from incidents.severity import severity_text

    overrides = {
        str(k).lower(): v
        for k, v in (integration.severity_mapping or {}).items()
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5
    }
    words = list(SENDER_SEVERITY_WORDS.get(integration.kind, DEFAULT_SEVERITY_WORDS))
    words += [w for w in overrides if w not in words]
    rows = []
    for word in words:
        default = DEFAULT_SEVERITY_WORDS.get(word)
        effective = overrides.get(word, default)
        rows.append(
            {
                "word": word,
                "default": default,
                "default_text": severity_text(default) if default else "",
                "override": overrides.get(word),
                "effective": effective,
                "effective_text": severity_text(effective)
                if effective
                else severity_text(integration.default_severity),
                "mapped": effective is not None,
            }
        )
    return rows


class SeverityMappingForm(forms.Form):
    """The integration's word -> severity table: each word "as default" or a severity 1-5, a few
    empty rows for words of the team's own (``p1``, ``page``), and the severity for none."""

    version = forms.CharField(required=False, widget=forms.HiddenInput)
    default_severity = forms.TypedChoiceField(
        label=_("Severity when the sender gives none or an unknown word"), coerce=int
    )

    def __init__(self, *args, integration, **kwargs):
        from incidents.severity import severity_choices

        super().__init__(*args, **kwargs)
        choices = severity_choices()
        self.fields["default_severity"].choices = choices
        self.rows = mapping_rows(integration)
        self.allows_new_words = integration.kind != IntegrationKind.PAGERDUTY
        for index, row in enumerate(self.rows):
            keep = (
                _("default (%(severity)s)") % {"severity": row["default_text"]}
                if row["default"]
                else _("not mapped (remove)")
            )
            field = forms.TypedChoiceField(
                label=row["word"],
                choices=[("", keep), *choices],
                coerce=int,
                required=False,
                empty_value=None,
            )
            self.fields[f"w{index}"] = field
            row["field"] = f"w{index}"
            if not self.is_bound:
                self.initial.setdefault(f"w{index}", row["override"] or "")
        self.new_rows = []
        if self.allows_new_words:
            for index in range(NEW_WORD_ROWS):
                self.fields[f"new_word{index}"] = forms.CharField(
                    label=_("Sender's word"), required=False, max_length=64
                )
                self.fields[f"new_severity{index}"] = forms.TypedChoiceField(
                    label=_("Vigil severity"),
                    choices=[("", "—"), *choices],
                    coerce=int,
                    required=False,
                    empty_value=None,
                )
                self.new_rows.append((f"new_word{index}", f"new_severity{index}"))

    def bound_rows(self):
        return [(row, self[row["field"]]) for row in self.rows]

    def bound_new_rows(self):
        return [(self[word], self[severity]) for word, severity in self.new_rows]

    def clean(self):
        data = super().clean()
        for word_field, severity_field in self.new_rows:
            word = _no_nul((data.get(word_field) or "").strip().lower())
            data[word_field] = word
            if word and not data.get(severity_field):
                self.add_error(severity_field, _("Choose the severity this word means."))
            elif data.get(severity_field) and not word:
                self.add_error(word_field, _("Type the word the sender uses."))
        return data

    def mapping(self) -> dict[str, int]:
        data = self.cleaned_data
        mapping = {}
        for row in self.rows:
            chosen = data.get(row["field"])
            if chosen is not None and chosen != row["default"]:
                mapping[row["word"]] = chosen
        for word_field, severity_field in self.new_rows:
            if data.get(word_field) and data.get(severity_field):
                mapping[data[word_field]] = data[severity_field]
        return mapping
