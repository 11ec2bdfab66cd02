"""Forms of the triage UI: the board's filters (from the URL), declaring an incident, and the
inputs of the incident room's actions. The services validate the domain rules; these forms
only turn request text into typed values with a message naming what is wrong."""

from __future__ import annotations

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Role
from incidents.board import SORTS, WINDOWS, BoardFilters
from incidents.models import SEVERITY_WORDS, Service, Severity, Status

SEVERITY_CHOICES = [
    (s.value, format_lazy("{} · {} — {}", s.value, SEVERITY_WORDS[s], s.label))
    for s in reversed(Severity)
]


def _severity_filter_choices() -> list[tuple[str, str]]:
    choices = [("", _("any severity"))]
    for sev in reversed(Severity.values):
        if 1 < sev < 5:
            choices.append(
                (f"{sev}+", format_lazy(_("{} · {} or worse"), sev, SEVERITY_WORDS[sev]))
            )
        choices.append((str(sev), format_lazy(_("{} · {} only"), sev, SEVERITY_WORDS[sev])))
    return choices


class BoardFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("open", "open"), *Status.choices, ("all", "all")],
    )
    severity = forms.ChoiceField(required=False, choices=_severity_filter_choices())
    service = forms.SlugField(required=False, max_length=64)
    team = forms.SlugField(required=False, max_length=64)
    window = forms.ChoiceField(
        required=False,
        choices=[("", "any time"), *[(k, f"last {k}") for k in WINDOWS]],
    )
    q = forms.CharField(required=False, max_length=200, strip=True)
    sort = forms.ChoiceField(required=False, choices=list(SORTS.items()))

    def filters(self) -> BoardFilters:
        data = self.cleaned_data
        return BoardFilters(
            status=data["status"] or "open",
            severity=data["severity"],
            service=data["service"],
            team=data["team"],
            window=data["window"],
            q=data["q"],
            sort=data["sort"] or "attention",
        )


class DeclareIncidentForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none(), empty_label=None)
    title = forms.CharField(max_length=255, strip=True)
    severity = forms.TypedChoiceField(
        choices=SEVERITY_CHOICES,
        coerce=int,
        initial=Severity.SIGNIFICANT,
        widget=forms.RadioSelect,
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, services, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services


class ResolveForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What fixed it?"}),
    )


class MitigateForm(forms.Form):
    note = forms.CharField(required=False, max_length=5000)


class ReopenForm(forms.Form):
    reason = forms.CharField(required=False, max_length=5000)


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Add a note to the timeline"}),
        error_messages={"required": "a note needs some text"},
    )


class SeverityForm(forms.Form):
    severity = forms.TypedChoiceField(choices=SEVERITY_CHOICES, coerce=int)
    reason = forms.CharField(required=False, max_length=2000)


class AssignForm(forms.Form):
    """The assignee is a responder (or above) of the incident's team; empty unassigns."""

    assignee = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="nobody", to_field_name="pk"
    )

    def __init__(self, *args, team_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        from accounts.models import User

        self.fields["assignee"].queryset = User.objects.filter(
            pk__in=Membership.objects.filter(team_id=team_id, role__gte=Role.RESPONDER).values(
                "user_id"
            )
        ).order_by("username")


def form_problems(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(str(e) for e in errors)}" if name != "__all__" else " ".join(errors)
        for name, errors in form.errors.items()
    )


class BulkActionForm(forms.Form):
    """The board's bulk bar: the checked incidents, the verb and its one input."""

    incident = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    action = forms.ChoiceField(
        choices=[
            ("acknowledge", _("acknowledge")),
            ("resolve", _("resolve")),
            ("assign", _("assign")),
        ]
    )
    note = forms.CharField(required=False, max_length=5000, strip=True)
    assignee = forms.CharField(required=False, max_length=20)

    def clean_incident(self):
        from incidents.bulk import MAX_INCIDENTS

        ids = self.cleaned_data["incident"]
        if len(ids) > MAX_INCIDENTS:
            raise forms.ValidationError(_("at most %(n)d incidents at once") % {"n": MAX_INCIDENTS})
        return sorted(set(ids))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id that fits a bigint; which ones the user may see is decided by the view.
        self.fields["incident"].valid_value = _fits_bigint
        self.fields["incident"].error_messages["required"] = _("select at least one incident")


def _fits_bigint(value) -> bool:
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 18
