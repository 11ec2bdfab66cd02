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
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
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
from statuspage.languages import catalog_language, negotiate
from statuspage.models import StatusPage, SubscriberKind
from statuspage.panel import statuspage_panel_context
from statuspage.public import build_snapshot, feed_entries, localize, localize_entries
from statuspage.services import subscribers, updates

SUBSCRIBE_PER_IP_PER_HOUR = 20


# --- reading (public, cached) -------------------------------------------------------------


def _load_meta(slug: str) -> dict:
    page = (
        StatusPage.objects.filter(slug=slug)
        .values("pk", "team_id", "is_public", "languages")
        .first()
    )
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


def _language(request: HttpRequest, meta: dict) -> str:
    """The reader's language among the page's (``?lang=``, then Accept-Language)."""
    return negotiate(
        meta.get("languages") or ["en"],
        query=request.GET.get("lang"),
        accept=request.headers.get("Accept-Language", ""),
    )


def _in_language(request: HttpRequest, meta: dict, variants: dict, response_of):
    """Pick the reader's variant of a per-language answer and say which it is."""
    language = _language(request, meta)
    if language not in variants:  # the page's languages changed since the answer was cached
        language = next(iter(variants))
    response = response_of(variants[language])
    response["Content-Language"] = language
    if len(variants) > 1:
        patch_vary_headers(response, ["Accept-Language"])
    return response


def _languages_of(snapshot: dict, render_one) -> dict:
    """One answer per language of the page, each rendered with that language active."""
    variants = {}
    for language in snapshot["page"]["languages"]:
        with translation.override(catalog_language(language)):
            variants[language] = render_one(localize(snapshot, language))
    return variants


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
    """The page in the reader's language (one cached rendering per page language)."""

    def render_html() -> dict[str, str]:
        return _languages_of(
            _snapshot(slug), lambda s: render_to_string("statuspage/page.html", {"s": s})
        )

    meta, variants = _read(request, slug, "html", render_html)
    return _cacheable(_in_language(request, meta, variants, HttpResponse), meta)


@require_GET
def theme_css(request: HttpRequest, slug: str) -> HttpResponse:
    """The page's accent colour as a stylesheet (the CSP forbids inline styles)."""

    def render_css() -> str:
        return f":root {{ --status-accent: {_snapshot(slug)['page']['accent_colour']}; }}\n"

    meta, css = _read(request, slug, "theme.css", render_css)
    return _cacheable(HttpResponse(css, content_type="text/css; charset=utf-8"), meta)


@require_GET
def summary_json(request: HttpRequest, slug: str) -> HttpResponse:
    def render_json() -> dict[str, bytes]:
        return _languages_of(
            _snapshot(slug),
            lambda s: json.dumps(summary_document(s), cls=DjangoJSONEncoder).encode(),
        )

    meta, variants = _read(request, slug, "summary.json", render_json)
    response = _in_language(
        request,
        meta,
        variants,
        lambda body: HttpResponse(body, content_type="application/json"),
    )
    if meta["is_public"]:  # widgets on other sites read it
        response["Access-Control-Allow-Origin"] = "*"
    return _cacheable(response, meta)


@require_GET
def feed_atom(request: HttpRequest, slug: str) -> HttpResponse:
    def render_feed() -> dict[str, bytes]:
        page = StatusPage.objects.get(slug=slug)
        entries = feed_entries(page)
        snapshot = _snapshot(slug)
        default = snapshot["page"]["default_language"]
        return _languages_of(
            snapshot,
            lambda s: atom_feed(s, localize_entries(entries, s["language"], default)),
        )

    meta, variants = _read(request, slug, "feed.atom", render_feed)
    response = _in_language(
        request,
        meta,
        variants,
        lambda body: HttpResponse(body, content_type="application/atom+xml; charset=utf-8"),
    )
    return _cacheable(response, meta)


@require_GET
def component_badge(request: HttpRequest, slug: str, component_id: int) -> HttpResponse:
    def render_badge() -> dict[str, str]:
        def badge(snapshot: dict) -> str:
            component = next((c for c in snapshot["components"] if c["id"] == component_id), None)
            return badge_svg(component) if component else ""

        return _languages_of(_snapshot(slug), badge)

    meta, variants = _read(request, slug, f"badge-{component_id}", render_badge)
    if not variants or not next(iter(variants.values())):
        raise Http404("No such component")
    response = _in_language(
        request,
        meta,
        variants,
        lambda svg: HttpResponse(svg, content_type="image/svg+xml; charset=utf-8"),
    )
    return _cacheable(response, meta)


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
    language = _reader_language(request, page)
    with translation.override(catalog_language(language)):
        hits = count_hit(f"statuspage:subscribe:{client_ip(request)}", ttl=3600)
        if hits > SUBSCRIBE_PER_IP_PER_HOUR:
            response = _message(
                request,
                page,
                language,
                _("Too many subscriptions from your address; try later."),
                status=429,
            )
            response["Retry-After"] = "3600"
            return response
        email = request.POST.get("email", "")
        try:
            subscribers.subscribe(
                page=page,
                kind=SubscriberKind.EMAIL,
                target=email,
                actor=Actor.system("public page"),
                language=language,
            )
        except InvalidStatusInput as exc:
            return _message(request, page, language, exc.message, status=400)
        return _message(
            request,
            page,
            language,
            _("Check your inbox: confirm the subscription with the link we sent."),
        )


def _reader_language(request: HttpRequest, page: StatusPage) -> str:
    """The reader's page language: the form's ``lang`` field, ``?lang=``, Accept-Language."""
    return negotiate(
        page.languages or [page.default_language],
        query=request.POST.get("lang") or request.GET.get("lang"),
        accept=request.headers.get("Accept-Language", ""),
    )


def _message(
    request: HttpRequest, page: StatusPage, language: str, message: str, status: int = 200
) -> HttpResponse:
    response = render(
        request,
        "statuspage/message.html",
        {"page": page, "message": message, "language": language},
        status=status,
    )
    response["Content-Language"] = language
    return response


def _confirm_page(request: HttpRequest, page: StatusPage, language: str, action: str, token: str):
    response = render(
        request,
        "statuspage/confirm.html",
        {"page": page, "action": action, "token": token, "language": language},
    )
    response["Content-Language"] = language
    return response


@csrf_exempt  # the signed token is the authority
@require_http_methods(["GET", "POST"])
def confirm_subscription(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    page = page_for_reader(request.user, slug)
    language = _reader_language(request, page)
    with translation.override(catalog_language(language)):
        if request.method == "GET":  # a GET never changes state (mail scanners follow links)
            return _confirm_page(request, page, language, "confirm", token)
        subscriber = subscribers.confirm(page=page, token=token)
        language = subscriber.language or language
        return _message(request, page, language, _("Subscription confirmed."))


@csrf_exempt  # the signed token is the authority; mail clients POST here (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    page = page_for_reader(request.user, slug)
    language = _reader_language(request, page)
    with translation.override(catalog_language(language)):
        if request.method == "GET":
            return _confirm_page(request, page, language, "unsubscribe", token)
        subscribers.unsubscribe(page=page, token=token)
        return _message(request, page, language, _("You are unsubscribed."))


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
    translations: dict[str, dict[str, str]] = {}
    for code in (page.languages or [])[1:]:
        texts = {
            "body": request.POST.get(f"body_{code}", "").strip(),
            "degradation_message": request.POST.get(f"degradation_{code}", "").strip(),
        }
        if any(texts.values()):
            translations[code] = {k: v for k, v in texts.items() if v}
    degradation = request.POST.get("degradation_message", "").strip()
    updates.post_update(
        page=page,
        incident=incident,
        status=request.POST.get("status", ""),
        body=request.POST.get("body", ""),
        name=request.POST.get("name", ""),
        degradation_message=degradation or None,
        translations=translations,
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
    page = update.public_incident.page
    translations = {
        code: {"body": request.POST[f"body_{code}"].strip()}
        for code in (page.languages or [])[1:]
        if request.POST.get(f"body_{code}", "").strip()
    }
    updates.approve_draft(
        update=update,
        actor=Actor.of_request(request),
        body=body or None,
        translations=translations,
    )
    return _panel_response(request, incident)


@login_required
@require_POST
def discard_update(request: HttpRequest, pk: int) -> HttpResponse:
    update = update_for_user(request.user, pk)
    incident = update.public_incident.incident
    _require_respond(request.user, incident.team_id)
    updates.discard_draft(update=update, actor=Actor.of_request(request))
    return _panel_response(request, incident)
