"""A person's own pages: contact methods (ordered, verified) and profile (name, time zone,
shifts)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Membership
from accounts.profile import update_profile
from config.errors import DomainError
from config.pages import error_to_form
from incidents.actors import Actor
from incidents.severity import severity_text
from incidents.views.common import see_other
from oncall import configure
from oncall.forms import (
    ContactMethodForm,
    NotificationRuleForm,
    ProfileForm,
)
from oncall.models import (
    ContactMethod,
    NotificationRule,
    Rotation,
)
from oncall.rotations import shifts_between

# --- my contact methods -------------------------------------------------------------------


def _my_method(request, pk: int) -> ContactMethod:
    method = ContactMethod.objects.filter(pk=pk, user=request.user).first()
    if method is None:
        raise Http404("No such contact method")
    return method


def rule_tiers(rules: list[NotificationRule]) -> list[dict]:
    """The person's rules as tiers, worst first: which severities each covers and its steps."""
    tiers = sorted({r.min_severity for r in rules}, reverse=True)
    shown, upper = [], 5
    for tier in tiers:
        steps = sorted(
            (r for r in rules if r.min_severity == tier), key=lambda r: (r.delay_minutes, r.pk)
        )
        shown.append(
            {
                "min": tier,
                "covers": [severity_text(n) for n in range(upper, tier - 1, -1)],
                "steps": steps,
            }
        )
        upper = tier - 1
    return shown


def _contact_page(request, form, *, status=200, result=None, tested=None, rule_form=None):
    methods = list(ContactMethod.objects.filter(user=request.user))
    rules = list(
        NotificationRule.objects.filter(user=request.user).select_related("contact_method")
    )
    tiers = rule_tiers(rules)
    lowest = min((t["min"] for t in tiers), default=None)
    return render(
        request,
        "oncall/contact_methods.html",
        {
            "nav": "oncall",
            "form": form,
            "methods": methods,
            "result": result,
            "tested": tested,
            "teams": Membership.objects.filter(user=request.user).select_related("team"),
            "tiers": tiers,
            "uncovered": [severity_text(n) for n in range(lowest - 1, 0, -1)] if lowest else [],
            "rule_form": rule_form or NotificationRuleForm(methods=methods),
        },
        status=status,
    )


@login_required
@require_POST
def notification_rule_add(request: HttpRequest) -> HttpResponse:
    methods = list(ContactMethod.objects.filter(user=request.user))
    form = NotificationRuleForm(request.POST, methods=methods)
    if form.is_valid():
        method = next(m for m in methods if m.pk == form.cleaned_data["contact_method"])
        try:
            configure.add_notification_rule(
                user=request.user, min_severity=form.cleaned_data["min_severity"],
                contact_method=method, delay_minutes=form.cleaned_data["delay_minutes"],
                actor=Actor.of_request(request),
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:contact-methods") + "#rules")
    return _contact_page(request, ContactMethodForm(), status=400, rule_form=form)


@login_required
@require_POST
def notification_rule_remove(request: HttpRequest, pk: int) -> HttpResponse:
    rule = NotificationRule.objects.filter(pk=pk, user=request.user).first()
    if rule is None:
        raise Http404("No such rule")
    configure.remove_notification_rule(rule=rule, actor=Actor.of_request(request))
    return see_other(reverse("oncall:contact-methods") + "#rules")


@login_required
@require_http_methods(["GET", "POST"])
def contact_methods(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _contact_page(request, ContactMethodForm())
    form = ContactMethodForm(request.POST)
    if form.is_valid():
        try:
            configure.add_contact_method(
                user=request.user, kind=form.cleaned_data["kind"],
                target=form.cleaned_data["target"], secret=form.cleaned_data["secret"],
                actor=Actor.of_request(request),
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("oncall:contact-methods"))
    return _contact_page(request, form, status=400)


@login_required
@require_POST
def contact_method_remove(request: HttpRequest, pk: int) -> HttpResponse:
    configure.remove_contact_method(method=_my_method(request, pk), actor=Actor.of_request(request))
    return see_other(reverse("oncall:contact-methods"))


@login_required
@require_POST
def contact_method_move(request: HttpRequest, pk: int, direction: str) -> HttpResponse:
    configure.move_contact_method(
        method=_my_method(request, pk), direction=direction, actor=Actor.of_request(request)
    )
    return see_other(reverse("oncall:contact-methods"))


@login_required
@require_POST
def contact_method_verify(request: HttpRequest, pk: int) -> HttpResponse:
    method = _my_method(request, pk)
    result = configure.verify_contact_method(method=method, actor=Actor.of_request(request))
    if request.htmx:
        name = f"{method.get_kind_display()} {method.target}"
        return render(request, "oncall/_send_result.html", {"result": result, "name": name})
    return _contact_page(request, ContactMethodForm(), result=result, tested=method.pk)


# --- my profile ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def my_profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={"display_name": user.display_name, "time_zone": user.time_zone},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                update_profile(
                    user=user,
                    actor=Actor.of_request(request),
                    display_name=form.cleaned_data["display_name"],
                    time_zone=form.cleaned_data["time_zone"],
                )
            except DomainError as exc:
                field, sep, problem = exc.message.partition(": ")
                form.add_error(field if sep and field in form.fields else None, problem)
            else:
                return see_other(reverse("oncall:profile"))
        status = 400
    now = timezone.now()
    shifts = []
    for rotation in Rotation.objects.filter(members__user=user).distinct():
        for shift in shifts_between(rotation, now, now + timedelta(days=28)):
            if shift.user.pk == user.pk:
                shifts.append((rotation, shift))
    shifts.sort(key=lambda item: item[1].start)
    return render(
        request,
        "oncall/profile.html",
        {"form": form, "shifts": shifts[:20], "contact_count": user.contact_methods.count()},
        status=status,
    )
