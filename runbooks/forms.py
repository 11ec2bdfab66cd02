from __future__ import annotations

from django import forms

from incidents.markdown import validate_markdown
from incidents.models import Service
from runbooks.models import DEFAULT_REVIEW_INTERVAL_DAYS, Runbook
from runbooks.services import RunbookError, RunbookInput, StepInput, parse_label_matchers

SEVERITIES = [(n, str(n)) for n in range(1, 6)]


class RunbookForm(forms.Form):
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "class": "markdown-source"}),
        required=False,
        validators=[validate_markdown],
    )
    services = forms.ModelMultipleChoiceField(queryset=Service.objects.none(), required=False)
    match_labels = forms.CharField(
        label="Label matchers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One name=value per line, * and ? allowed, e.g. alertname=HighLatency",
    )
    match_title = forms.CharField(label="Title pattern", required=False, max_length=200)
    match_dedup_key = forms.CharField(label="Dedup key pattern", required=False, max_length=200)
    min_severity = forms.TypedChoiceField(choices=SEVERITIES, coerce=int, initial=1)
    max_severity = forms.TypedChoiceField(choices=SEVERITIES, coerce=int, initial=5)
    is_active = forms.BooleanField(required=False, initial=True)
    review_interval_days = forms.IntegerField(
        min_value=1, max_value=3650, initial=DEFAULT_REVIEW_INTERVAL_DAYS
    )

    def __init__(self, *args, team_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["services"].queryset = Service.objects.filter(team_id=team_id)

    def clean_match_labels(self):
        try:
            return parse_label_matchers(self.cleaned_data["match_labels"])
        except RunbookError as exc:
            raise forms.ValidationError(str(exc)) from None

    @classmethod
    def initial_for(cls, runbook: Runbook) -> dict:
        return {
            "title": runbook.title,
            "body": runbook.body,
            "services": list(runbook.services.all()),
            "match_labels": runbook.matcher_text(),
            "match_title": runbook.match_title,
            "match_dedup_key": runbook.match_dedup_key,
            "min_severity": runbook.min_severity,
            "max_severity": runbook.max_severity,
            "is_active": runbook.is_active,
            "review_interval_days": runbook.review_interval_days,
        }


class StepForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    position = forms.IntegerField(required=False, min_value=0)
    title = forms.CharField(max_length=200, required=False)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, validators=[validate_markdown]
    )
    action_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    action_body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    action_secret = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored secret.",
    )
    clear_secret = forms.BooleanField(required=False)
    run_automatically = forms.BooleanField(required=False)


StepFormSet = forms.formset_factory(StepForm, extra=2, can_delete=True)


def steps_initial(runbook: Runbook) -> list[dict]:
    return [
        {
            "id": s.pk,
            "position": s.position,
            "title": s.title,
            "body": s.body,
            "action_url": s.action_url,
            "action_body": s.action_body,
            "run_automatically": s.run_automatically,
        }
        for s in runbook.steps.all()
    ]


def runbook_input(form: RunbookForm, formset) -> RunbookInput:
    steps = []
    for index, step_form in enumerate(formset.forms):
        data = step_form.cleaned_data
        if not data or data.get("DELETE") or not (data.get("title") or "").strip():
            continue
        secret = data.get("action_secret") or None
        if data.get("clear_secret"):
            secret = ""
        position = data.get("position")
        steps.append(
            (
                position if position is not None else 10_000 + index,
                index,
                StepInput(
                    id=data.get("id"),
                    title=data["title"],
                    body=data.get("body", ""),
                    action_url=data.get("action_url", ""),
                    action_body=data.get("action_body", ""),
                    action_secret=secret,
                    run_automatically=bool(data.get("run_automatically")),
                ),
            )
        )
    cleaned = form.cleaned_data
    return RunbookInput(
        title=cleaned["title"],
        body=cleaned["body"],
        service_ids=[s.pk for s in cleaned["services"]],
        match_labels=cleaned["match_labels"],
        match_title=cleaned["match_title"],
        match_dedup_key=cleaned["match_dedup_key"],
        min_severity=cleaned["min_severity"],
        max_severity=cleaned["max_severity"],
        is_active=cleaned["is_active"],
        review_interval_days=cleaned["review_interval_days"],
        steps=[s for _, _, s in sorted(steps, key=lambda t: (t[0], t[1]))],
    )
