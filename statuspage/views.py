"""Status pages: the public page and its feeds (from cache), subscription links, and the
incident-room panel's actions."""

from __future__ import annotations

import json

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import client_ip
from accounts.permissions import Action, can
from config.ratelimit import count_hit
from config.web import see_other, wants_fragment
from incidents.access import get_incident_for_user
from incidents.actors import Actor
from statuspage import cache as status_cache
from statuspage.access import page_for_reader, pages_of, update_for_user
from statuspage.errors import InvalidStatusInput
from statuspage.feeds import atom_feed, badge_svg, summary_document
from statuspage.models import StatusPage, SubscriberKind
from statuspage.panel import statuspage_panel_context
from statuspage.public import build_snapshot, feed_entries
from statuspage.services import subscribers, updates

SUBSCRIBE_PER_IP_PER_HOUR = 20


# --- reading (public, cached) -------------------------------------------------------------


def _load_meta(slug: str) -> dict:
    page = StatusPage.objects.filter(slug=slug).values("pk", "team_id", "is_public").first()
    return page or {"missing": True}


def _check(request: HttpRequest, meta: dict) -> dict:
    if meta.get("missing"):
        raise Http404("No such status page")
    if not meta["is_public"] and not can(request.user, meta["team_id"], Action.VIEW):
        raise Http404("No such status page")
    return meta


def _read(request: HttpRequest, slug: str, what: str, render) -> tuple[dict, object]:
    """Who may read the page and the answer, from cache in two round trips (a public read
    needs no database query). An unknown page renders nothing; a login-only page may render
    for a stranger once (cached, never shown to them) before the check refuses."""
    if len(slug) > 64:
        raise Http404("No such status page")

    def answer():
        if _load_meta(slug).get("missing"):
            return None
        return render()

    values = status_cache.cached_many(slug, {"meta": lambda: _load_meta(slug), what: answer})
    return _check(request, values["meta"]), values[what]


def _cacheable(response: HttpResponse, meta: dict) -> HttpResponse:
    seconds = settings.STATUSPAGE_CACHE_SECONDS
    if meta["is_public"]:
        patch_cache_control(response, public=True, max_age=seconds)
    else:
        patch_cache_control(response, private=True, max_age=seconds)
        patch_vary_headers(response, ["Cookie"])
    return response


def _snapshot(slug: str) -> dict:
    def build() -> dict:
        page = StatusPage.objects.get(slug=slug)
        return build_snapshot(page)

    return status_cache.cached(slug, "snapshot", build)


@require_GET
@csp_update({"img-src": ["https:"]})
def status_page(request: HttpRequest, slug: str) -> HttpResponse:
    def render_html() -> str:
        return render_to_string("statuspage/page.html", {"s": _snapshot(slug)})

    meta, html = _read(request, slug, "html", render_html)
    return _cacheable(HttpResponse(html), meta)


@require_GET
def theme_css(request: HttpRequest, slug: str) -> HttpResponse:
    """The page's accent colour as a stylesheet (the CSP forbids inline styles)."""

    def render_css() -> str:
        return f":root {{ --status-accent: {_snapshot(slug)['page']['accent_colour']}; }}\n"

    meta, css = _read(request, slug, "theme.css", render_css)
    return _cacheable(HttpResponse(css, content_type="text/css; charset=utf-8"), meta)


@require_GET
def summary_json(request: HttpRequest, slug: str) -> HttpResponse:
    def render_json() -> bytes:
        return json.dumps(summary_document(_snapshot(slug)), cls=DjangoJSONEncoder).encode()

    meta, body = _read(request, slug, "summary.json", render_json)
    response = HttpResponse(body, content_type="application/json")
    if meta["is_public"]:  # widgets on other sites read it
        response["Access-Control-Allow-Origin"] = "*"
    return _cacheable(response, meta)


@require_GET
def feed_atom(request: HttpRequest, slug: str) -> HttpResponse:
    def render_feed() -> bytes:
        page = StatusPage.objects.get(slug=slug)
        return atom_feed(_snapshot(slug), feed_entries(page))

    meta, body = _read(request, slug, "feed.atom", render_feed)
    return _cacheable(HttpResponse(body, content_type="application/atom+xml; charset=utf-8"), meta)


@require_GET
def component_badge(request: HttpRequest, slug: str, component_id: int) -> HttpResponse:
    def render_badge() -> str:
        snapshot = _snapshot(slug)
        component = next((c for c in snapshot["components"] if c["id"] == component_id), None)
        return badge_svg(component) if component else ""

    meta, svg = _read(request, slug, f"badge-{component_id}", render_badge)
    if not svg:
        raise Http404("No such component")
    return _cacheable(HttpResponse(svg, content_type="image/svg+xml; charset=utf-8"), meta)


@login_required
@require_GET
def page_list(request: HttpRequest) -> HttpResponse:
    pages = list(pages_of(request.user).order_by("team__name", "title"))
    return render(request, "statuspage/list.html", {"pages": pages, "nav": "status"})


# --- subscribing (public; the signed token or the rate limit is the guard) ---------------


@csrf_exempt  # the public page is cached and carries no per-visitor token; see the docstring
@require_POST
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    """Email subscription from the public page. Without CSRF: the worst a forged post can do
    is send a confirmation mail, which anyone can do directly; the per-address limit caps it."""
    page = page_for_reader(request.user, slug)
    hits = count_hit(f"statuspage:subscribe:{client_ip(request)}", ttl=3600)
    if hits > SUBSCRIBE_PER_IP_PER_HOUR:
        response = render(
            request,
            "statuspage/message.html",
            {"page": page, "message": "Too many subscriptions from your address; try later."},
            status=429,
        )
        response["Retry-After"] = "3600"
        return response
    email = request.POST.get("email", "")
    try:
        subscribers.subscribe(
            page=page, kind=SubscriberKind.EMAIL, target=email, actor=Actor.system("public page")
        )
    except InvalidStatusInput as exc:
        return render(
            request, "statuspage/message.html", {"page": page, "message": exc.message}, status=400
        )
    return render(
        request,
        "statuspage/message.html",
        {"page": page, "message": "Check your inbox: confirm the subscription with the link "
         "we sent."},
    )  # fmt: skip


@csrf_exempt  # the signed token is the authority
@require_http_methods(["GET", "POST"])
def confirm_subscription(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    page = page_for_reader(request.user, slug)
    if request.method == "GET":  # a GET never changes state (mail scanners follow links)
        return render(
            request, "statuspage/confirm.html", {"page": page, "action": "confirm", "token": token}
        )
    subscribers.confirm(page=page, token=token)
    return render(
        request, "statuspage/message.html", {"page": page, "message": "Subscription confirmed."}
    )


@csrf_exempt  # the signed token is the authority; mail clients POST here (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    page = page_for_reader(request.user, slug)
    if request.method == "GET":
        return render(
            request,
            "statuspage/confirm.html",
            {"page": page, "action": "unsubscribe", "token": token},
        )
    subscribers.unsubscribe(page=page, token=token)
    return render(
        request, "statuspage/message.html", {"page": page, "message": "You are unsubscribed."}
    )


# --- the incident room's panel ------------------------------------------------------------


def _panel_response(request: HttpRequest, incident) -> HttpResponse:
    if not wants_fragment(request):
        return see_other(f"/incidents/{incident.pk}/#panel-statuspage")
    context = statuspage_panel_context(incident, request.user) or {}
    return render(
        request,
        "statuspage/_incident_panel.html",
        {**context, "incident": incident, "request": request},
    )


def _require_respond(user, team_id: int) -> None:
    if not can(user, team_id, Action.RESPOND):
        raise PermissionDenied("Your role in this team does not allow posting status updates.")


@login_required
@require_POST
def post_from_room(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_incident_for_user(request.user, incident_pk)
    _require_respond(request.user, incident.team_id)
    page = (
        pages_of(request.user)
        .filter(team_id=incident.team_id, slug=request.POST.get("page", ""))
        .first()
    )
    if page is None:
        raise InvalidStatusInput("choose one of this team's status pages")
    updates.post_update(
        page=page,
        incident=incident,
        status=request.POST.get("status", ""),
        body=request.POST.get("body", ""),
        name=request.POST.get("name", ""),
        actor=Actor.of_request(request),
    )
    return _panel_response(request, incident)


@login_required
@require_POST
def approve_update(request: HttpRequest, pk: int) -> HttpResponse:
    update = update_for_user(request.user, pk)
    incident = update.public_incident.incident
    _require_respond(request.user, incident.team_id)
    body = request.POST.get("body")
    updates.approve_draft(update=update, actor=Actor.of_request(request), body=body or None)
    return _panel_response(request, incident)


@login_required
@require_POST
def discard_update(request: HttpRequest, pk: int) -> HttpResponse:
    update = update_for_user(request.user, pk)
    incident = update.public_incident.incident
    _require_respond(request.user, incident.team_id)
    updates.discard_draft(update=update, actor=Actor.of_request(request))
    return _panel_response(request, incident)
