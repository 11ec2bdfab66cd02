"""Pages of llm: AI health and normal state per service, endpoints managed in the browser.

Reading needs membership of the service's team; managing endpoints and the policy needs
CONFIGURE. Every page works without JavaScript; htmx swaps the window selector's fragment.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import Action, can
from config.errors import InvalidInput
from config.web import see_other, wants_fragment
from incidents.access import get_service_for_user
from incidents.actors import Actor
from incidents.models import Service
from llm import endpoints
from llm import health as health_data
from llm.forms import EndpointForm, PolicyForm
from llm.models import LlmPolicy, ModelEndpoint


def _require(request, service, action: Action) -> None:
    if not can(request.user, service.team_id, action):
        raise PermissionDenied(_("Your role in this team does not allow this (manager needed)."))


@login_required
@require_http_methods(["GET"])
def overview(request):
    """Every visible service that has model endpoints, with its active tier (two queries)."""
    services = (
        Service.objects.visible_to(request.user)
        .filter(model_endpoints__isnull=False)
        .distinct()
        .select_related("llm_route", "llm_route__endpoint")
        .order_by("name")
    )
    return render(request, "llm/overview.html", {"services": services, "nav": "models"})


@login_required
@require_http_methods(["GET"])
def health(request, slug: str):
    service = get_service_for_user(request.user, slug)
    context = {
        "service": service,
        "nav": "services",
        **health_data.health_context(service, request.GET.get("window", "24h")),
    }
    template = "llm/health.html#body" if wants_fragment(request) else "llm/health.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET"])
def normal(request, slug: str):
    service = get_service_for_user(request.user, slug)
    context = {"service": service, "nav": "services", **health_data.normal_context(service)}
    return render(request, "llm/normal.html", context)


def _form_errors(form) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_list(request, slug: str):
    service = get_service_for_user(request.user, slug)
    form = EndpointForm()
    if request.method == "POST":
        _require(request, service, Action.CONFIGURE)
        form = EndpointForm(request.POST)
        if not form.is_valid():
            raise InvalidInput(_("The endpoint was not added: %s") % _form_errors(form))
        data = dict(form.cleaned_data)
        credential = data.pop("credential")
        endpoints.create_endpoint(
            service=service, actor=Actor.of_request(request), credential=credential, **data
        )
        return see_other(reverse("llm-endpoints", args=[service.slug]))
    policy = LlmPolicy.objects.filter(service=service).first()
    return render(
        request,
        "llm/endpoints.html",
        {
            "service": service,
            "nav": "services",
            "endpoints": ModelEndpoint.objects.filter(service=service).order_by("tier", "name"),
            "form": form,
            "policy_form": PolicyForm(
                initial={
                    "degradation_message": policy.degradation_message if policy else "",
                    "daily_budget": policy.daily_budget if policy else None,
                    "budget_warning_percent": policy.budget_warning_percent if policy else 80,
                    "anomaly_detection": policy.anomaly_detection if policy else True,
                }
            ),
            "may_configure": can(request.user, service.team_id, Action.CONFIGURE),
        },
    )


@login_required
@require_POST
def endpoint_delete(request, slug: str, pk: int):
    service = get_service_for_user(request.user, slug)
    endpoint = ModelEndpoint.objects.filter(service=service, pk=pk).first()
    if endpoint is None:
        raise Http404("No such endpoint")
    _require(request, service, Action.CONFIGURE)
    endpoints.delete_endpoint(endpoint=endpoint, actor=Actor.of_request(request))
    return see_other(reverse("llm-endpoints", args=[service.slug]))


@login_required
@require_POST
def policy(request, slug: str):
    service = get_service_for_user(request.user, slug)
    _require(request, service, Action.CONFIGURE)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        raise InvalidInput(_("The settings were not saved: %s") % _form_errors(form))
    endpoints.update_policy(service=service, actor=Actor.of_request(request), **form.cleaned_data)
    return see_other(reverse("llm-endpoints", args=[service.slug]))
