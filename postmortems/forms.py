from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from incidents.markdown import validate_markdown
from postmortems.models import (
    EDITABLE_FIELDS,
    FACTOR_CHOICES,
    PROSE_FIELDS,
    ItemStatus,
    PostMortem,
    Priority,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


MARKDOWN_FIELDS = ("summary", "impact", "what_went_well", "what_went_wrong", "lessons_learned")


class PostMortemForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in MARKDOWN_FIELDS:
            self.fields[name].validators.append(validate_markdown)

    impact_started_at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        help_text="Only if users were affected before the alert fired (UTC).",
    )
    data_loss_from = forms.DateTimeField(
        required=False, input_formats=DATETIME_FORMATS, widget=DateTimeLocalInput()
    )
    data_loss_until = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        help_text="Record both ends (the same moment for no loss), or neither if unknown.",
    )

    class Meta:
        model = PostMortem
        fields = list(EDITABLE_FIELDS)
        widgets = {
            **{name: forms.Textarea(attrs={"rows": 5}) for name in PROSE_FIELDS},
            "no_action_reason": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {
            "no_action_needed": _("No action needed"),
            "no_action_reason": _("Why no action is needed"),
        }


class WhyForm(forms.Form):
    question = forms.CharField(max_length=500)
    answer = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_root_cause = forms.BooleanField(required=False)


class NewWhyForm(forms.Form):
    question = forms.CharField(max_length=500)
    answer = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    parent = forms.IntegerField(required=False)
    sibling_of = forms.IntegerField(required=False)


class FactorForm(forms.Form):
    factor = forms.ChoiceField(choices=FACTOR_CHOICES)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=255)
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.MEDIUM)
    link = forms.URLField(required=False, max_length=500, assume_scheme="https")

    def __init__(self, *args, team_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(memberships__team_id=team_id).order_by(
            "username"
        )


class ReviewCommentForm(forms.Form):
    body = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ItemStatus.choices)
