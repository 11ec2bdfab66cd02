"""Building blocks every app's API reuses: team scoping, permissions, pagination, errors.

An app exposes its models in a few lines (see monitoring/api.py or oncall/api.py)::

    from config.api import TeamScopedMixin

    class ProbeViewSet(TeamScopedMixin, viewsets.ModelViewSet):
        queryset = Probe.objects.select_related("service")
        serializer_class = ProbeSerializer
        team_field = "service__team_id"        # path from the model to its team id
        write_action = Action.CONFIGURE        # role needed for POST/PUT/PATCH/DELETE
        ordering_fields = ["created_at", "id"]
        ordering = ["-created_at", "-id"]

        def perform_create(self, serializer):
            self.require(serializer.validated_data["service"].team_id)
            serializer.save()

    def register(router):
        router.register("probes", ProbeViewSet, basename="probe")

What the mixin guarantees: the queryset only holds rows of the caller's teams (another team's
object is a 404, never a 403, and never appears in a list); reads need membership; writes need
the view's Action in the object's team and a token that is not read-only (403 otherwise).

Every error answers one JSON shape (documented in docs/api.md)::

    {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}

Domain errors derive from ``config.errors.DomainError`` and carry their own status and code
(``IncidentError`` is a 409 ``conflict``, ``RunbookError`` a 400 ``invalid``); services raise
them and the handler below answers them. ``register_domain_error`` remains only for exceptions
of third-party code that cannot derive from DomainError (Django's ``ProtectedError``).
"""

from __future__ import annotations

import logging
import time

from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import ProtectedError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as django_filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, filters
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import BaseThrottle

from accounts.audit import client_ip
from accounts.authentication import READ_ONLY_TOKEN_MESSAGE
from accounts.models import ApiToken
from accounts.permissions import Action, can, team_ids_of
from config import safejson
from config.errors import DomainError
from config.limits import LIMITS_TEXT, within_limits
from config.ratelimit import count_hit

log = logging.getLogger(__name__)

# --- errors -------------------------------------------------------------------------------

_DOMAIN_ERRORS: dict[type[Exception], tuple[int, str]] = {
    # Deleting something other rows still point at (a service with incidents).
    ProtectedError: (409, "protected"),
}


def register_domain_error(exc_class: type[Exception], *, status: int, code: str) -> None:
    """Answer a third-party ``exc_class`` (and subclasses) with this status and code.

    Our own errors derive from ``config.errors.DomainError`` instead. The exception's message
    becomes the error message, so it must be safe to show the caller.
    """
    _DOMAIN_ERRORS[exc_class] = (status, code)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _domain_error(exc: Exception) -> tuple[int, str] | None:
    if isinstance(exc, DomainError):
        return exc.status, exc.code
    for klass in type(exc).__mro__:
        if klass in _DOMAIN_ERRORS:
            return _DOMAIN_ERRORS[klass]
    return None


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error in the one JSON shape, headers kept (Retry-After,
    WWW-Authenticate). Unexpected exceptions still propagate (500, logged by Django)."""
    # Imported here: rest_framework.views reads DEFAULT_PERMISSION_CLASSES (this module) on import.
    from rest_framework.views import exception_handler as drf_exception_handler
    from rest_framework.views import set_rollback

    mapped = _domain_error(exc)
    if mapped is not None:
        from rest_framework.response import Response

        set_rollback()
        status, code = mapped
        message = str(exc)
        if isinstance(exc, ProtectedError):
            message = "Still referenced by other objects; remove or move those first."
        return Response(error_body(code, message), status=status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    fields: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        if isinstance(exc.detail, dict):
            fields = {k: v for k, v in exc.detail.items() if k != "non_field_errors"}
            general = exc.detail.get("non_field_errors")
            message = _flatten(general) if general else "Invalid input: " + _flatten(fields)
        else:
            message = _flatten(exc.detail)
    else:
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        message = _flatten(exc.detail)
    response.data = error_body(code, message, fields)
    return response


@csrf_exempt  # no state changes here; CSRF would turn this 404 into an HTML 403
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer the JSON error shape, not an HTML page."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)


# --- parsing ------------------------------------------------------------------------------


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with the limits of ``config.safejson``: no NaN/Infinity (the field is
    named), nesting bounded (DRF's parser recursed until a RecursionError, a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return safejson.loads(raw)
        except safejson.InvalidJson as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


# --- permissions --------------------------------------------------------------------------


def token_may_write(request) -> bool:
    token = request.auth
    return not (isinstance(token, ApiToken) and token.read_only)


class TeamPermission(BasePermission):
    """Authenticated; writes need a writable token and the view's Action in the object's team.

    Detail routes decide writes only after the object is found, so another team's object is a
    404 whatever the role. (Read-only tokens are already refused on every write by
    BearerTokenAuthentication; the checks here also cover views with other authentication.)
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or getattr(view, "detail", False):
            return True
        if not token_may_write(request):
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        # Reads: the team-scoped queryset already proved membership.
        if request.method in SAFE_METHODS:
            return True
        if hasattr(view, "require"):
            view.require(view.team_id_of(obj))
        elif not token_may_write(request):
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE)
        return True


class TeamScopedMixin:
    """Restricts a viewset to the caller's teams; see the module docstring."""

    permission_classes = [TeamPermission]
    # Path from the model to its team's id, in queryset lookup syntax.
    team_field = "team_id"
    # Role needed for writes, per viewset action name; ``write_action`` for the rest.
    write_action: Action = Action.RESPOND
    action_permissions: dict[str, Action] = {}

    def visible_team_ids(self) -> list[int]:
        request = self.request
        if not hasattr(request, "_vigil_team_ids"):
            request._vigil_team_ids = team_ids_of(request.user)
        return request._vigil_team_ids

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset.filter(**{f"{self.team_field}__in": self.visible_team_ids()})

    def team_id_of(self, obj) -> int:
        value = obj
        for part in self.team_field.split("__"):
            value = getattr(value, part)
        return value

    def required_action(self) -> Action:
        return self.action_permissions.get(getattr(self, "action", None), self.write_action)

    def require(self, team_id: int, action: Action | None = None) -> None:
        """Raise 403 unless the caller may do ``action`` (default: this view's) in the team."""
        if not token_may_write(self.request):
            raise exceptions.PermissionDenied(READ_ONLY_TOKEN_MESSAGE)
        action = action or self.required_action()
        if not can(self.request.user, team_id, action):
            raise exceptions.PermissionDenied(
                f"Your role in this team does not allow this ({action.value.label} or above "
                "needed)."
            )


# --- lists --------------------------------------------------------------------------------


class CursorPage(CursorPagination):
    """Cursor pagination: stable under inserts, constant cost per page at any depth."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-id",)

    def get_page_size(self, request):
        """Strict: a page_size that is not an integer in 1..max_page_size is a 400."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]}
            )
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(
                    {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size}
                )
        return parameters

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            # A hand-made cursor whose position does not fit the ordering field.
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None


MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class ForeignIdFilter(django_filters.NumberFilter):
    """A foreign key given by its integer id, never looked up: another team's id and an id that
    does not exist both give an empty list (a ModelChoiceFilter answered 400 for the unknown
    one only, telling a caller which ids exist in other teams)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.pop("queryset", None)
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class BoundedDateTimeField(IsoDateTimeField):
    def clean(self, value):
        moment = super().clean(value)
        if moment is not None and within_limits(moment) is None:
            raise DjangoValidationError(f"Give a time {LIMITS_TEXT}.", code="out_of_range")
        return moment


@extend_schema_field({"type": "string", "format": "date-time"})
class BoundedDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 time within config.limits (an offset of +16:00 made PostgreSQL fail: a 500)."""

    field_class = BoundedDateTimeField


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet where a filter given with an empty value is a 400 instead of being ignored,
    so ``?opened_before=`` cannot silently mean "no limit". Foreign keys filter by id without
    an existence check, times must lie within config.limits."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": ForeignIdFilter},
        models.OneToOneField: {"filter_class": ForeignIdFilter},
        models.DateTimeField: {"filter_class": BoundedDateTimeFilter},
    }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        getlist = getattr(self.data, "getlist", None)
        for name in self.filters:
            if name not in self.data:
                continue
            values = getlist(name) if getlist else [self.data.get(name)]
            if any(value == "" for value in values):
                if name in self.form.fields:
                    self.form.add_error(name, "Give a value or leave the parameter out.")
                valid = False
        return valid


class FilterBackend(django_filters.DjangoFilterBackend):
    """DjangoFilterBackend whose generated filtersets (``filterset_fields``) are strict too."""

    filterset_base = StrictFilterSet


class StableOrderingFilter(filters.OrderingFilter):
    """OrderingFilter that always ends with the primary key, so equal values page stably."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        ordering = list(ordering)
        if not any(term.lstrip("-") in ("id", "pk") for term in ordering):
            ordering.append("-id" if ordering[0].startswith("-") else "id")
        return ordering


# --- throttling ---------------------------------------------------------------------------


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1200/min" -> (1200, 60). The period's first letter counts: s, m, h or d."""
    try:
        count, period = rate.split("/")
        return int(count), _PERIODS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(
            f"API_THROTTLE_RATE must look like 1200/min, got {rate!r}"
        ) from None


class TokenRateThrottle(BaseThrottle):
    """One budget per user (all their tokens and their browser session share it), per address
    for anonymous requests.

    A fixed-window counter in the cache: one atomic INCR per request, whatever the rate (DRF's
    SimpleRateThrottle rewrites the list of every request in the window, which grew to
    thousands of entries per request under load). A burst may reach twice the rate across a
    window boundary. The rate is settings.API_THROTTLE_RATE, read per request; empty disables
    throttling. If the cache is down, requests are let through rather than refused.
    """

    def allow_request(self, request, view) -> bool:
        rate = getattr(settings, "API_THROTTLE_RATE", "")
        if not rate:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        key = f"throttle:api:{self._ident(request)}:{window}"
        try:
            count = count_hit(key, ttl=period + 1)
        except Exception:  # noqa: BLE001 - a cache outage must not take the API down
            log.warning("API throttle cache unavailable; request allowed", exc_info=True)
            return True
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return max(1.0, self._wait)

    def _ident(self, request) -> str:
        # Per user, whatever the token: a user minting more tokens gets no more requests.
        if request.user and request.user.is_authenticated:
            return f"user:{request.user.pk}"
        return f"ip:{client_ip(request) or 'unknown'}"


# --- schema -------------------------------------------------------------------------------

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `error.fields` names each problem.",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "Your role or a read-only token does not allow this.",
    "404": "No such object in your teams.",
    "409": "The request conflicts with the object's state (e.g. an invalid transition).",
    "429": "Too many requests for this user; see the Retry-After header.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the JSON error shape on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "fields"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object", "additionalProperties": {}},
                    },
                }
            },
        },
    )
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            codes = ["400", "401", "403", "429"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch", "delete"):
                codes.append("409")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code, {"description": _ERROR_DESCRIPTIONS[code], "content": ref}
                )
            if "429" in responses:
                responses["429"].setdefault(
                    "headers",
                    {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before retrying.",
                        }
                    },
                )
    return result
