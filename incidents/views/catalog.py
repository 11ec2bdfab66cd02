"""Service catalogue pages: create, edit, archive and restore services; the service page; its
integrations (created with the token shown once, rotated with grace, switched off and on).

Reading needs membership in the service's team (another team's service is a 404); every write
needs the manager role (403). Writes go through incidents.catalog / incidents.ingest.services,
which write the audit rows.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, can
from config.baseurl import public_base_url
from config.errors import DomainError, InvalidInput
from config.pages import error_to_form, require_role, teams_where
from config.stale import version_of
from incidents import catalog
from incidents.access import get_service_for_user
from incidents.actors import Actor
from incidents.forms_catalog import (
    IntegrationForm,
    RotateTokenForm,
    ServiceForm,
    SeverityMappingForm,
    mapping_rows,
)
from incidents.ingest.examples import example_for
from incidents.ingest.services import (
    MAX_ATTEMPTS,
    create_integration,
    hook_url,
    rotate_integration_token,
)
from incidents.models import OPEN_STATUSES, InboundEvent, Incident, Integration, Service
from incidents.service_sections import sections_for
from incidents.views.common import see_other


def _service_form_initial(service: Service) -> dict:
    return {
        **{name: getattr(service, name) for name in catalog.SERVICE_FIELDS},
        "version": version_of(service, catalog.SERVICE_FIELDS),
    }


@login_required
@require_http_methods(["GET", "POST"])
def service_new(request: HttpRequest) -> HttpResponse:
    teams = teams_where(request.user, Action.CONFIGURE)
    if not teams.exists():
        require_role(request.user, 0, Action.CONFIGURE, doing=_("Adding a service"))
    form = ServiceForm(request.POST or None, teams=teams)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            require_role(request.user, data["team"], Action.CONFIGURE, doing=_("Adding a service"))
            try:
                service = catalog.create_service(
                    team=data["team"],
                    name=data["name"],
                    slug=data["slug"],
                    description=data["description"],
                    rto_minutes=data["rto_minutes"],
                    rpo_minutes=data["rpo_minutes"],
                    downtime_cost_per_hour=data["downtime_cost_per_hour"],
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                error_to_form(form, exc)
            else:
                return see_other(reverse("service-page", args=[service.slug]))
        status = 400
    return render(
        request,
        "incidents/service_form.html",
        {"nav": "services", "form": form, "service": None},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Editing a service"))
    if request.method == "GET":
        form = ServiceForm(initial=_service_form_initial(service), editing=True)
        return render(
            request,
            "incidents/service_form.html",
            {"nav": "services", "form": form, "service": service},
        )
    form = ServiceForm(request.POST, editing=True)
    if form.is_valid():
        data = form.cleaned_data
        try:
            service = catalog.update_service(
                service=service,
                actor=Actor.of_request(request),
                changes={name: data[name] for name in catalog.SERVICE_FIELDS},
                version=data["version"],
            )
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("service-page", args=[service.slug]))
    return render(
        request,
        "incidents/service_form.html",
        {"nav": "services", "form": form, "service": service},
        status=400,
    )


@login_required
@require_POST
def service_archive(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Archiving a service"))
    catalog.archive_service(service=service, actor=Actor.of_request(request))
    return see_other(reverse("service-page", args=[service.slug]))


@login_required
@require_POST
def service_restore(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Restoring a service"))
    catalog.restore_service(service=service, actor=Actor.of_request(request))
    return see_other(reverse("service-page", args=[service.slug]))


def open_incidents_section(service: Service, user) -> dict:
    incidents = list(
        Incident.objects.filter(service=service, status__in=OPEN_STATUSES)
        .select_related("assignee")
        .order_by("-severity", "-triggered_at")[:20]
    )
    return {"incidents": incidents}


def integrations_section(service: Service, user) -> dict:
    integrations = list(
        Integration.objects.filter(service=service)
        .annotate(last_delivery_at=Max("events__received_at"))
        .order_by("-is_active", "name")
    )
    return {"integrations": integrations, "form": IntegrationForm()}


@login_required
@require_GET
def service_page(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    can_configure = can(request.user, service.team_id, Action.CONFIGURE)
    sections = [
        (section, {**context, "service": service, "can_configure": can_configure})
        for section, context in sections_for(service, request.user)
    ]
    return render(
        request,
        "incidents/service_page.html",
        {
            "nav": "services",
            "service": service,
            "sections": sections,
            "can_configure": can_configure,
            "now": timezone.now(),
        },
    )


# --- integrations -------------------------------------------------------------------------


def _get_integration(request: HttpRequest, slug: str, pk: int) -> Integration:
    service = get_service_for_user(request.user, slug)
    integration = (
        Integration.objects.select_related("service__team").filter(pk=pk, service=service).first()
    )
    if integration is None:
        raise Http404("No such integration")
    return integration


def _token_shown_once(request, integration: Integration, token: str, *, rotated: bool, status):
    url = hook_url(integration, token, base_url=public_base_url(request))
    example = example_for(
        kind=integration.kind, url=url, token=token, service_name=integration.service.name
    )
    return render(
        request,
        "incidents/integration_token.html",
        {
            "nav": "services",
            "service": integration.service,
            "integration": integration,
            "token": token,
            "url": url,
            "example": example,
            "rotated": rotated,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def integration_new(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Adding an integration"))
    form = IntegrationForm(request.POST or None, initial={"kind": request.GET.get("kind")})
    status = 200
    if request.method == "POST":
        if service.is_archived:
            form.add_error(None, _("This service is archived: restore it to add integrations."))
        elif form.is_valid():
            data = form.cleaned_data
            if Integration.objects.filter(service=service, name=data["name"]).exists():
                form.add_error("name", _("This service already has an integration of that name."))
            else:
                try:
                    integration, token = create_integration(
                        service=service,
                        kind=data["kind"],
                        name=data["name"],
                        actor=Actor.of_request(request),
                        auto_resolve=data["auto_resolve"],
                        hmac_secret=data["hmac_secret"],
                    )
                except IntegrityError:  # the same name, created a moment ago by someone else
                    form.add_error(
                        "name", _("This service already has an integration of that name.")
                    )
                    return render(
                        request,
                        "incidents/integration_new.html",
                        {"nav": "services", "service": service, "form": form},
                        status=409,
                    )
                if data["default_severity"] != integration.default_severity:
                    Integration.objects.filter(pk=integration.pk).update(
                        default_severity=data["default_severity"]
                    )
                    integration.default_severity = data["default_severity"]
                return _token_shown_once(request, integration, token, rotated=False, status=201)
        status = 400
    return render(
        request,
        "incidents/integration_new.html",
        {"nav": "services", "service": service, "form": form},
        status=status,
    )


def _delivery_outcome(event: InboundEvent) -> tuple[str, str]:
    if event.processed_at is not None:
        return "applied", ""
    if event.attempts >= MAX_ATTEMPTS:
        return "parked", event.error
    if event.error:
        return "retrying", event.error
    return "pending", ""


def _mapping_form(integration: Integration, data=None) -> SeverityMappingForm:
    initial = {
        "default_severity": integration.default_severity,
        "version": version_of(integration, catalog.MAPPING_FIELDS),
    }
    return SeverityMappingForm(data, integration=integration, initial=initial)


@login_required
@require_GET
def integration_page(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    integration = _get_integration(request, slug, pk)
    return _integration_page(request, integration)


def _integration_page(request, integration, *, mapping_form=None, status=200) -> HttpResponse:
    events = list(
        InboundEvent.objects.filter(integration=integration)
        .select_related("incident")
        .order_by("-received_at", "-id")[:20]
    )
    deliveries = [(event, *_delivery_outcome(event)) for event in events]
    return render(
        request,
        "incidents/integration_page.html",
        {
            "nav": "services",
            "service": integration.service,
            "integration": integration,
            "deliveries": deliveries,
            "last_delivery_at": events[0].received_at if events else None,
            "rotate_form": RotateTokenForm(),
            "can_configure": can(request.user, integration.service.team_id, Action.CONFIGURE),
            "base_url": public_base_url(request),
            "now": timezone.now(),
            "mapping_rows": mapping_rows(integration),
            "mapping_form": mapping_form or _mapping_form(integration),
        },
        status=status,
    )


@login_required
@require_POST
def integration_severities(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Save the word -> severity table; the page again with field errors when refused."""
    integration = _get_integration(request, slug, pk)
    require_role(
        request.user,
        integration.service.team_id,
        Action.CONFIGURE,
        doing=_("Changing how an integration's severities map"),
    )
    form = _mapping_form(integration, request.POST)
    if form.is_valid():
        try:
            catalog.set_severity_mapping(
                integration=integration,
                mapping=form.mapping(),
                default_severity=form.cleaned_data["default_severity"],
                actor=Actor.of_request(request),
                version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            url = reverse("integration-page", args=[slug, integration.pk]) + "#severities"
            return see_other(url)
    return _integration_page(request, integration, mapping_form=form, status=400)


@login_required
@require_POST
def integration_rotate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    integration = _get_integration(request, slug, pk)
    require_role(
        request.user, integration.service.team_id, Action.CONFIGURE, doing=_("Rotating a token")
    )
    form = RotateTokenForm(request.POST)
    if not form.is_valid():
        raise InvalidInput(_("Grace period: a whole number of hours from 0 to 168 (7 days)."))
    integration, token = rotate_integration_token(
        integration=integration,
        actor=Actor.of_request(request),
        grace=timedelta(hours=form.cleaned_data["grace_hours"]),
    )
    return _token_shown_once(request, integration, token, rotated=True, status=200)


def _integration_switch(request, slug, pk, *, active: bool) -> HttpResponse:
    integration = _get_integration(request, slug, pk)
    require_role(
        request.user,
        integration.service.team_id,
        Action.CONFIGURE,
        doing=_("Switching an integration on or off"),
    )
    verb = catalog.reactivate_integration if active else catalog.deactivate_integration
    verb(integration=integration, actor=Actor.of_request(request))
    return see_other(reverse("integration-page", args=[slug, integration.pk]))


@login_required
@require_POST
def integration_deactivate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _integration_switch(request, slug, pk, active=False)


@login_required
@require_POST
def integration_reactivate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    return _integration_switch(request, slug, pk, active=True)
