"""Forms of the on-call set-up pages. Typed values and field errors; oncall.configure checks the
rules again (the API may call it too)."""

from __future__ import annotations

from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from oncall.configure import MAX_SHIFT_HOURS, MAX_TIMEOUT_MINUTES, LevelSpec
from oncall.models import LEVEL_NAMES, LEVELS, ChannelKind

LEVEL_CHOICES = [(n, f"L{n}") for n in LEVELS]
SEVERITIES = ("1", "2", "3", "4", "5")


def _zone_choices():
    return [(z, z) for z in sorted(available_timezones())]


def _no_nul(value):
    if isinstance(value, str) and "\x00" in value:
        raise forms.ValidationError(_("NUL characters are not allowed."))
    return value


class PolicyForm(forms.Form):
    """The policy, its severity rules (a small table) and its levels L1-L4, in one form."""

    version = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=120)
    is_team_default = forms.BooleanField(
        label=_("Team default (for services without their own policy)"), required=False
    )
    repeat_last_level = forms.IntegerField(
        label=_("Repeat the last level this many times"), min_value=0, max_value=10, initial=2
    )

    def __init__(self, *args, members, rotations, teams, channels, **kwargs):
        super().__init__(*args, **kwargs)
        for sev in SEVERITIES:
            self.fields[f"s{sev}_start"] = forms.TypedChoiceField(
                choices=LEVEL_CHOICES, coerce=int, label=_("start")
            )
            self.fields[f"s{sev}_stop"] = forms.TypedChoiceField(
                choices=LEVEL_CHOICES, coerce=int, label=_("stop")
            )
            self.fields[f"s{sev}_inform"] = forms.TypedMultipleChoiceField(
                choices=LEVEL_CHOICES, coerce=int, required=False, label=_("inform"),
                widget=forms.CheckboxSelectMultiple,
            )  # fmt: skip
        for n in LEVELS:
            self.fields[f"l{n}_enabled"] = forms.BooleanField(
                required=False, label=_("Use this level")
            )
            self.fields[f"l{n}_timeout"] = forms.IntegerField(
                label=_("Minutes before the next level"), min_value=1,
                max_value=MAX_TIMEOUT_MINUTES, initial=15, required=False,
            )  # fmt: skip
            self.fields[f"l{n}_users"] = forms.TypedMultipleChoiceField(
                label=_("People"), choices=members, coerce=int, required=False,
                widget=forms.CheckboxSelectMultiple,
            )  # fmt: skip
            self.fields[f"l{n}_rotation"] = forms.TypedChoiceField(
                label=_("Whoever is on call in"), choices=[("", "—"), *rotations], coerce=int,
                required=False, empty_value=None,
            )  # fmt: skip
            self.fields[f"l{n}_team"] = forms.TypedChoiceField(
                label=_("Every responder of team"), choices=[("", "—"), *teams], coerce=int,
                required=False, empty_value=None,
            )  # fmt: skip
            self.fields[f"l{n}_channels"] = forms.TypedMultipleChoiceField(
                label=_("Channels"), choices=channels, coerce=int, required=False,
                widget=forms.CheckboxSelectMultiple,
            )  # fmt: skip

    def clean_name(self):
        return _no_nul(self.cleaned_data["name"].strip())

    def clean(self):
        data = super().clean()
        for sev in SEVERITIES:
            start, stop = data.get(f"s{sev}_start"), data.get(f"s{sev}_stop")
            if start and stop and stop < start:
                self.add_error(f"s{sev}_stop", _("below the start level"))
        if not any(data.get(f"l{n}_enabled") for n in LEVELS):
            self.add_error(None, _("Use at least one level."))
        for n in LEVELS:
            if data.get(f"l{n}_enabled") and not data.get(f"l{n}_timeout"):
                self.add_error(f"l{n}_timeout", _("Give the minutes before the next level."))
        return data

    def policy_values(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "is_team_default": data["is_team_default"],
            "repeat_last_level": data["repeat_last_level"],
            "severity_rules": {
                sev: {"start": data[f"s{sev}_start"], "stop": data[f"s{sev}_stop"],
                      "inform": sorted(data[f"s{sev}_inform"])}
                for sev in SEVERITIES
            },
        }  # fmt: skip

    def level_specs(self) -> dict[int, LevelSpec | None]:
        data = self.cleaned_data
        return {
            n: LevelSpec(
                timeout_minutes=data[f"l{n}_timeout"],
                user_ids=list(data[f"l{n}_users"]),
                rotation_id=data[f"l{n}_rotation"],
                target_team_id=data[f"l{n}_team"],
                channel_ids=list(data[f"l{n}_channels"]),
            )
            if data[f"l{n}_enabled"]
            else None
            for n in LEVELS
        }

    def level_rows(self):
        """(number, name, bound fields) per level, for the template."""
        names = ("enabled", "timeout", "users", "rotation", "team", "channels")
        return [(n, LEVEL_NAMES[n], [self[f"l{n}_{k}"] for k in names]) for n in LEVELS]

    def rule_rows(self):
        return [
            (sev, self[f"s{sev}_start"], self[f"s{sev}_stop"], self[f"s{sev}_inform"])
            for sev in SEVERITIES
        ]


def policy_initial(policy) -> dict:
    initial = {
        "name": policy.name,
        "is_team_default": policy.is_team_default,
        "repeat_last_level": policy.repeat_last_level,
    }
    for sev, rule in (policy.severity_rules or {}).items():
        initial[f"s{sev}_start"] = rule.get("start")
        initial[f"s{sev}_stop"] = rule.get("stop")
        initial[f"s{sev}_inform"] = rule.get("inform", [])
    for level in policy.levels.prefetch_related("users", "channels"):
        n = level.number
        initial[f"l{n}_enabled"] = True
        initial[f"l{n}_timeout"] = level.timeout_minutes
        initial[f"l{n}_users"] = [u.pk for u in level.users.all()]
        initial[f"l{n}_rotation"] = level.rotation_id
        initial[f"l{n}_team"] = level.target_team_id
        initial[f"l{n}_channels"] = [c.pk for c in level.channels.all()]
    return initial


def new_policy_initial() -> dict:
    from oncall.models import default_severity_rules

    initial = {"repeat_last_level": 2, "l2_enabled": True, "l2_timeout": 15}
    for sev, rule in default_severity_rules().items():
        initial[f"s{sev}_start"] = rule["start"]
        initial[f"s{sev}_stop"] = rule["stop"]
        initial[f"s{sev}_inform"] = rule["inform"]
    return initial


class PreviewForm(forms.Form):
    severity = forms.TypedChoiceField(
        choices=[(s, s) for s in range(1, 6)], coerce=int, initial=4, label=_("Severity")
    )
    service = forms.SlugField(required=False, max_length=64, label=_("Service"))


class RotationForm(forms.Form):
    version = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=120)
    time_zone = forms.ChoiceField(label=_("Time zone"), initial="UTC")
    shift_hours = forms.IntegerField(
        label=_("Shift length (hours)"), min_value=1, max_value=MAX_SHIFT_HOURS, initial=168,
        help_text=_("168 = weekly, 24 = daily."),
    )  # fmt: skip
    handoff_time = forms.TimeField(
        label=_("Handoff time (in the rotation's zone)"), initial="09:00"
    )
    start_date = forms.DateField(
        label=_("First handoff on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, members, slots: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _zone_choices()
        self.slots = slots
        for i in range(slots):
            self.fields[f"member_{i}"] = forms.TypedChoiceField(
                label=_("Shift %(n)s") % {"n": i + 1}, choices=[("", "—"), *members], coerce=int,
                required=False, empty_value=None,
            )  # fmt: skip

    def clean_name(self):
        return _no_nul(self.cleaned_data["name"].strip())

    def clean_start_date(self):
        value = self.cleaned_data["start_date"]
        if not 1970 <= value.year <= 2100:
            raise forms.ValidationError(_("Between 1970 and 2100."))
        return value

    def clean(self):
        data = super().clean()
        chosen = [data.get(f"member_{i}") for i in range(self.slots)]
        chosen = [c for c in chosen if c]
        if len(set(chosen)) != len(chosen):
            self.add_error(None, _("Someone is in the order twice."))
        if not chosen:
            self.add_error("member_0", _("Put at least one person in the rotation."))
        data["member_ids"] = chosen
        return data

    def values(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("name", "time_zone", "shift_hours", "handoff_time",
                                     "start_date")}  # fmt: skip

    def member_fields(self):
        return [self[f"member_{i}"] for i in range(self.slots)]


class OverrideForm(forms.Form):
    user = forms.TypedChoiceField(label=_("Who covers"), coerce=int)
    start = forms.DateTimeField(
        label=_("From (your time zone)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    end = forms.DateTimeField(
        label=_("Until (your time zone)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = members

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            value = data.get(name)
            if value and not 1970 <= value.year <= 2100:
                self.add_error(name, _("Between 1970 and 2100."))
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("Must be after the start."))
        return data


class SwapForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int)
    start = forms.DateTimeField()
    end = forms.DateTimeField()

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = members


class ChannelForm(forms.Form):
    version = forms.CharField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=ChannelKind.choices)
    target = forms.CharField(
        label=_("E-mail address or URL"), max_length=500,
        help_text=_("An address for e-mail; the webhook URL for webhooks and Slack-compatible "
                    "chats (Mattermost, Rocket.Chat)."),
    )  # fmt: skip
    secret = forms.CharField(
        label=_("Signing secret (webhooks)"), max_length=128, required=False,
        help_text=_("Signs each webhook body with HMAC-SHA256; empty: unsigned."),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def clean(self):
        data = super().clean()
        for name in ("name", "target", "secret"):
            if isinstance(data.get(name), str) and "\x00" in data[name]:
                self.add_error(name, _("NUL characters are not allowed."))
        return data


class ContactMethodForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ChannelKind.choices)
    target = forms.CharField(label=_("E-mail address or URL"), max_length=500)
    secret = forms.CharField(label=_("Signing secret (webhooks)"), max_length=128, required=False)

    def clean(self):
        data = super().clean()
        for name in ("target", "secret"):
            if isinstance(data.get(name), str) and "\x00" in data[name]:
                self.add_error(name, _("NUL characters are not allowed."))
        return data


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _zone_choices()


class NotificationRuleForm(forms.Form):
    """One rule: for severity N or worse, this contact method, M minutes after the page."""

    min_severity = forms.TypedChoiceField(label=_("For incidents of severity"), coerce=int)
    contact_method = forms.TypedChoiceField(label=_("reach me by"), coerce=int)
    delay_minutes = forms.IntegerField(
        label=_("minutes after the page"), min_value=0, max_value=1440, initial=0
    )

    def __init__(self, *args, methods, **kwargs):
        from incidents.severity import severity_text

        super().__init__(*args, **kwargs)
        self.fields["min_severity"].choices = [
            (
                n,
                _("%(severity)s or worse") % {"severity": severity_text(n)}
                if n < 5
                else severity_text(n),
            )
            for n in (5, 4, 3, 2, 1)
        ]
        self.fields["contact_method"].choices = [
            (m.pk, f"{m.get_kind_display()} {m.target}") for m in methods
        ]


class AutomatedActionForm(forms.Form):
    """An automated action of one level: a signed JSON POST when the level engages."""

    version = forms.CharField(required=False, widget=forms.HiddenInput)
    level = forms.TypedChoiceField(label=_("Fired when this level engages"), coerce=int)
    name = forms.CharField(label=_("Name"), max_length=120)
    url = forms.CharField(
        label=_("URL (POST, JSON)"),
        max_length=500,
        help_text=_("Called through the same guard as probes: private addresses are refused."),
    )
    body_template = forms.CharField(
        label=_("Body (JSON object)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=_(
            'Strings may name the incident: "{{ incident.reference }}", "{{ incident.title }}", '
            '"{{ incident.severity }}", "{{ service.slug }}", "{{ level }}".'
        ),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Signs each request (X-Vigil-Signature, HMAC-SHA256). Never shown again; "
            "leave empty to keep the current one."
        ),
    )
    clear_secret = forms.BooleanField(label=_("Remove the signing secret"), required=False)

    def __init__(self, *args, levels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [(n, f"L{n} · {LEVEL_NAMES[n]}") for n in levels]

    def clean_name(self):
        return _no_nul(self.cleaned_data["name"].strip())

    def clean_url(self):
        return _no_nul(self.cleaned_data["url"].strip())

    def clean_body_template(self):
        from config.errors import InvalidInput
        from oncall.configure.actions import parse_body_template

        try:
            return parse_body_template(_no_nul(self.cleaned_data["body_template"]))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message.removeprefix("body_template: ")) from None

    def values(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "url": data["url"], "body_template": data["body_template"],
                "secret": data["secret"] or None}  # fmt: skip
