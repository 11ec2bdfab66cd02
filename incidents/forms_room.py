"""Inputs of the incident room's merge, link and snooze actions (incidents.views.relations)."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from config.api import MAX_ID
from incidents import snooze

_REFERENCE = re.compile(r"^\s*(?:INC-?)?(\d{1,19})\s*$", re.IGNORECASE)


class IncidentReferenceField(forms.Field):
    """``INC-42`` or ``42``: the number of another incident."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        match = _REFERENCE.match(str(value)[:40])
        number = int(match.group(1)) if match else 0
        if not 1 <= number <= MAX_ID:
            raise forms.ValidationError(_("give an incident number such as INC-42"))
        return number


class OtherIncidentForm(forms.Form):
    other = IncidentReferenceField(label=_("Incident"))


class SnoozeForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=snooze.MAX_MINUTES, label=_("Snooze for"))
