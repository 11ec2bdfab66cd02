"""Monitor pages: the /monitors/ overview, probe and heartbeat pages, and their set-up forms.

Reading needs membership in the service's team (another team's monitor is a 404); every write
needs the manager role (403). Writes go through monitoring.configure, which writes the audit rows.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import Action, can, team_ids_of
from config.baseurl import public_base_url
from config.errors import DomainError, InvalidInput
from config.pages import error_to_form, require_role
from config.stale import version_of
from incidents.access import get_service_for_user
from incidents.actors import Actor
from incidents.templatetags.setup_pages import viewer_zone
from incidents.views.common import see_other
from monitoring import charts, configure, stats
from monitoring.forms import HeartbeatForm, MonitorFilterForm, ProbeForm
from monitoring.models import Heartbeat, HeartbeatPing, Probe, ProbeState

PAGE_SIZE = 50
_OVERVIEW_COLUMNS = (
    "id", "name", "method", "url", "interval_seconds", "state", "last_checked_at", "last_error",
    "service__id", "service__name", "service__slug",
)  # fmt: skip
_HEARTBEAT_COLUMNS = (
    "id", "name", "uuid", "state", "last_ping_at", "alert_after", "service__id", "service__name",
)  # fmt: skip
PING_LOG_SIZE = 50


def _get_probe(request: HttpRequest, pk: int) -> Probe:
    probe = (
        Probe.objects.select_related("service__team")
        .filter(pk=pk, service__team_id__in=team_ids_of(request.user))
        .first()
    )
    if probe is None:
        raise Http404("No such probe")
    return probe


def _get_heartbeat(request: HttpRequest, pk: int) -> Heartbeat:
    heartbeat = (
        Heartbeat.objects.select_related("service__team")
        .filter(pk=pk, service__team_id__in=team_ids_of(request.user))
        .first()
    )
    if heartbeat is None:
        raise Http404("No such heartbeat")
    return heartbeat


# --- overview -----------------------------------------------------------------------------


def _rounded(figures: dict | None) -> dict | None:
    if figures is None:
        return None
    return {
        k: (round(v) if isinstance(v, float) and k.startswith("p") else v)
        for k, v in figures.items()
    }


@login_required
@require_GET
def monitor_overview(request: HttpRequest) -> HttpResponse:
    """Paginated and filterable; a page costs a constant number of queries whatever the count:
    probes of the page, one grouped percentile query over their last 24 h, heartbeats."""
    form = MonitorFilterForm(request.GET)
    if not form.is_valid():
        raise InvalidInput(_("Invalid filter: ") + form.errors.as_text())
    data = form.cleaned_data
    teams = team_ids_of(request.user)
    probes = Probe.objects.filter(service__team_id__in=teams)
    heartbeats = Heartbeat.objects.filter(service__team_id__in=teams)
    if data["state"]:
        probes = probes.filter(state=data["state"])
        heartbeats = heartbeats.filter(state=data["state"])
    if data["service"]:
        probes = probes.filter(service__slug=data["service"])
        heartbeats = heartbeats.filter(service__slug=data["service"])
    if data["q"]:
        probes = probes.filter(Q(name__icontains=data["q"]) | Q(url__icontains=data["q"]))
        heartbeats = heartbeats.filter(name__icontains=data["q"])
    # Ordered along the unique (service, name) index: a page is an index range, not a sort of
    # every probe; only the columns the table shows are read.
    paginator = Paginator(
        probes.select_related("service").only(*_OVERVIEW_COLUMNS).order_by("service_id", "name"),
        PAGE_SIZE,
    )
    page = paginator.get_page(data["page"] or 1)
    now = timezone.now()
    percentiles = charts.percentiles_for(
        [probe.pk for probe in page.object_list], since=now - timedelta(hours=24)
    )
    rows = [(probe, _rounded(percentiles.get(probe.pk))) for probe in page.object_list]
    heartbeat_page = Paginator(
        heartbeats.select_related("service")
        .only(*_HEARTBEAT_COLUMNS)
        .order_by("service_id", "name"),
        PAGE_SIZE,
    ).get_page(data["page"] or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "monitors",
        "form": form,
        "rows": rows,
        "page": page,
        "heartbeats": heartbeat_page,
        "query": query.urlencode(),
        "scheduler_problem": stats.scheduler_problem(),
        "base_url": public_base_url(request),
        "states": [s.value for s in ProbeState],
        # Row links built once, not reversed per row.
        "probe_prefix": reverse("probe-page", args=[0])[: -len("0/")],
        "heartbeat_prefix": reverse("heartbeat-page", args=[0])[: -len("0/")],
    }
    template = "monitoring/list.html#monitors" if request.htmx else "monitoring/list.html"
    return render(request, template, context)


# --- probes -------------------------------------------------------------------------------


def _probe_form_page(request, form, *, service, probe, status=200):
    return render(
        request,
        "monitoring/probe_form.html",
        {"nav": "monitors", "form": form, "service": service, "probe": probe},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def probe_new(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Adding a probe"))
    if request.method == "GET":
        return _probe_form_page(request, ProbeForm(), service=service, probe=None)
    form = ProbeForm(request.POST, instance=Probe(service=service))
    if form.is_valid():
        try:
            probe = configure.create_probe(
                service=service, actor=Actor.of_request(request), values=form.values()
            )
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("probe-page", args=[probe.pk]))
    return _probe_form_page(request, form, service=service, probe=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def probe_edit(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _get_probe(request, pk)
    require_role(request.user, probe.service.team_id, Action.CONFIGURE, doing=_("Editing a probe"))
    if request.method == "GET":
        form = ProbeForm(
            instance=probe, initial={"version": version_of(probe, configure.PROBE_FIELDS)}
        )
        return _probe_form_page(request, form, service=probe.service, probe=probe)
    version = request.POST.get("version", "")
    form = ProbeForm(request.POST, instance=_get_probe(request, pk))
    if form.is_valid():
        try:
            probe = configure.update_probe(
                probe=probe, actor=Actor.of_request(request), values=form.values(),
                version=version,
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("probe-page", args=[probe.pk]))
    return _probe_form_page(request, form, service=probe.service, probe=probe, status=400)


@login_required
@require_GET
def probe_page(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _get_probe(request, pk)
    now = timezone.now()
    zone = viewer_zone(request.user)
    windows = stats.probe_stats(probe, now=now)
    context = {
        "nav": "monitors",
        "probe": probe,
        "service": probe.service,
        "windows": windows,
        "chart_24h": charts.latency_chart(probe, hours=24, now=now, title="24 h", zone=zone),
        "chart_7d": charts.latency_chart(probe, hours=24 * 7, now=now, title="7 d", zone=zone),
        "uptime": charts.uptime_days(probe, days=90, now=now),
        "errors": charts.error_categories(probe, since=now - timedelta(days=7)),
        "results": list(probe.results.order_by("-at", "-id")[:20]),
        "can_configure": can(request.user, probe.service.team_id, Action.CONFIGURE),
    }
    return render(request, "monitoring/probe_page.html", context)


def _probe_write(request, pk, doing):
    probe = _get_probe(request, pk)
    require_role(request.user, probe.service.team_id, Action.CONFIGURE, doing=doing)
    return probe


@login_required
@require_POST
def probe_pause(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _probe_write(request, pk, _("Pausing a probe"))
    configure.pause_probe(probe=probe, actor=Actor.of_request(request))
    return see_other(reverse("probe-page", args=[pk]))


@login_required
@require_POST
def probe_resume(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _probe_write(request, pk, _("Resuming a probe"))
    configure.resume_probe(probe=probe, actor=Actor.of_request(request))
    return see_other(reverse("probe-page", args=[pk]))


@login_required
@require_POST
def probe_delete(request: HttpRequest, pk: int) -> HttpResponse:
    probe = _probe_write(request, pk, _("Deleting a probe"))
    slug = probe.service.slug
    configure.delete_probe(probe=probe, actor=Actor.of_request(request))
    return see_other(reverse("service-page", args=[slug]))


@login_required
@require_POST
def probe_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Run one check now and show the outcome (a fragment under htmx, the probe page without)."""
    probe = _probe_write(request, pk, _("Testing a probe"))
    outcome = configure.check_probe_now(probe=probe)
    context = {"probe": probe, "outcome": outcome}
    if request.htmx:
        return render(request, "monitoring/_test_result.html", context)
    return render(
        request,
        "monitoring/probe_tested.html",
        {**context, "nav": "monitors", "service": probe.service},
    )


# --- heartbeats ---------------------------------------------------------------------------


def _heartbeat_form_page(request, form, *, service, heartbeat, status=200):
    return render(
        request,
        "monitoring/heartbeat_form.html",
        {"nav": "monitors", "form": form, "service": service, "heartbeat": heartbeat},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def heartbeat_new(request: HttpRequest, slug: str) -> HttpResponse:
    service = get_service_for_user(request.user, slug)
    require_role(request.user, service.team_id, Action.CONFIGURE, doing=_("Adding a heartbeat"))
    if request.method == "GET":
        return _heartbeat_form_page(request, HeartbeatForm(), service=service, heartbeat=None)
    form = HeartbeatForm(request.POST, instance=Heartbeat(service=service))
    if form.is_valid():
        try:
            heartbeat = configure.create_heartbeat(
                service=service, actor=Actor.of_request(request), values=form.values()
            )
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("heartbeat-page", args=[heartbeat.pk]))
    return _heartbeat_form_page(request, form, service=service, heartbeat=None, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def heartbeat_edit(request: HttpRequest, pk: int) -> HttpResponse:
    heartbeat = _get_heartbeat(request, pk)
    require_role(
        request.user, heartbeat.service.team_id, Action.CONFIGURE, doing=_("Editing a heartbeat")
    )
    if request.method == "GET":
        form = HeartbeatForm(
            instance=heartbeat,
            initial={"version": version_of(heartbeat, configure.HEARTBEAT_FIELDS)},
        )
        return _heartbeat_form_page(request, form, service=heartbeat.service, heartbeat=heartbeat)
    version = request.POST.get("version", "")
    form = HeartbeatForm(request.POST, instance=_get_heartbeat(request, pk))
    if form.is_valid():
        try:
            heartbeat = configure.update_heartbeat(
                heartbeat=heartbeat, actor=Actor.of_request(request), values=form.values(),
                version=version,
            )  # fmt: skip
        except DomainError as exc:
            error_to_form(form, exc)
        else:
            return see_other(reverse("heartbeat-page", args=[heartbeat.pk]))
    return _heartbeat_form_page(
        request, form, service=heartbeat.service, heartbeat=heartbeat, status=400
    )


def ping_examples(url: str) -> list[tuple[str, str, str]]:
    return [
        ("cron", _("crontab line (runs daily at 03:00)"),
         f"0 3 * * * /usr/local/bin/backup.sh && curl -fsS -m 10 --retry 5 -o /dev/null {url}"),
        ("curl", _("start, then success or the exit code"),
         f"curl -fsS -m 10 -o /dev/null {url}/start\n/usr/local/bin/backup.sh\n"
         f'curl -fsS -m 10 --retry 5 -o /dev/null --data-raw "$(tail -c 10000 /var/log/backup.log)" '
         f"{url}/$?"),
        ("systemd", _("systemd service unit: ping on success, /fail on failure"),
         "[Service]\nType=oneshot\nExecStart=/usr/local/bin/backup.sh\n"
         f"ExecStartPost=/usr/bin/curl -fsS -m 10 --retry 5 -o /dev/null {url}\n"
         f"ExecStopPost=/bin/sh -c 'test \"$SERVICE_RESULT\" = success || "
         f"/usr/bin/curl -fsS -m 10 -o /dev/null {url}/fail'"),
    ]  # fmt: skip


@login_required
@require_GET
def heartbeat_page(request: HttpRequest, pk: int) -> HttpResponse:
    heartbeat = _get_heartbeat(request, pk)
    url = public_base_url(request) + heartbeat.ping_path
    pings = list(
        HeartbeatPing.objects.filter(heartbeat=heartbeat).order_by("-at", "-id")[:PING_LOG_SIZE]
    )
    return render(
        request,
        "monitoring/heartbeat_page.html",
        {
            "nav": "monitors",
            "heartbeat": heartbeat,
            "service": heartbeat.service,
            "ping_url": url,
            "examples": ping_examples(url),
            "pings": pings,
            "period": timedelta(seconds=heartbeat.period_seconds),
            "grace": timedelta(seconds=heartbeat.grace_seconds),
            "can_configure": can(request.user, heartbeat.service.team_id, Action.CONFIGURE),
        },
    )


def _heartbeat_write(request, pk, doing):
    heartbeat = _get_heartbeat(request, pk)
    require_role(request.user, heartbeat.service.team_id, Action.CONFIGURE, doing=doing)
    return heartbeat


@login_required
@require_POST
def heartbeat_pause(request: HttpRequest, pk: int) -> HttpResponse:
    heartbeat = _heartbeat_write(request, pk, _("Pausing a heartbeat"))
    configure.pause_heartbeat(heartbeat=heartbeat, actor=Actor.of_request(request))
    return see_other(reverse("heartbeat-page", args=[pk]))


@login_required
@require_POST
def heartbeat_resume(request: HttpRequest, pk: int) -> HttpResponse:
    heartbeat = _heartbeat_write(request, pk, _("Resuming a heartbeat"))
    configure.resume_heartbeat(heartbeat=heartbeat, actor=Actor.of_request(request))
    return see_other(reverse("heartbeat-page", args=[pk]))


@login_required
@require_POST
def heartbeat_delete(request: HttpRequest, pk: int) -> HttpResponse:
    heartbeat = _heartbeat_write(request, pk, _("Deleting a heartbeat"))
    slug = heartbeat.service.slug
    configure.delete_heartbeat(heartbeat=heartbeat, actor=Actor.of_request(request))
    return see_other(reverse("service-page", args=[slug]))


# --- the service page's section -----------------------------------------------------------


def monitors_section(service, user) -> dict:
    return {
        "probes": list(Probe.objects.filter(service=service).order_by("name")),
        "heartbeats": list(Heartbeat.objects.filter(service=service).order_by("name")),
    }
