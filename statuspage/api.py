"""REST API for status pages: pages, components (with overrides), communication templates,
public updates, subscribers, maintenance windows, and the avatar's degradation endpoint.

Team scoping, roles, pagination and the error shape come from config.api; every write goes
through statuspage.services exactly as the room's panel does. Managers configure pages and
templates; responders post updates, override components and schedule maintenance.
"""

from __future__ import annotations

import hashlib
import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import Action, can
from config.api import TeamScopedMixin
from incidents.actors import Actor
from incidents.models import Incident, Service
from statuspage import cache as status_cache
from statuspage.degradation import current
from statuspage.errors import InvalidStatusInput
from statuspage.languages import clean_languages, clean_translations, negotiate
from statuspage.models import (
    CommunicationTemplate,
    Component,
    ComponentGroup,
    ComponentStatus,
    MaintenanceWindow,
    PublicUpdate,
    StatusPage,
    Subscriber,
    SubscriberKind,
    UpdateStatus,
)
from statuspage.services import components, maintenance, subscribers, templates, updates

# --- pages and components -----------------------------------------------------------------


class StatusPageSerializer(serializers.ModelSerializer):
    class Meta:
        model = StatusPage
        fields = [
            "id", "team", "slug", "title", "is_public", "logo_url", "accent_colour",
            "support_url", "time_zone", "languages", "auto_post_first_update",
            "degradation_public", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {
            "languages": {"help_text": 'Language codes, the default first (e.g. ["en", "de"]).'}
        }

    def validate_languages(self, value) -> list[str]:
        return _translations_field(clean_languages, value)

    def validate_accent_colour(self, value: str) -> str:
        import re

        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise serializers.ValidationError("an accent colour looks like #1a2b3c")
        return value

    def validate_time_zone(self, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise serializers.ValidationError(f"unknown time zone {value[:64]!r}") from None
        return value


class StatusPageViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    queryset = StatusPage.objects.all()
    serializer_class = StatusPageSerializer
    write_action = Action.CONFIGURE
    lookup_field = "slug"
    ordering = ["title", "id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["team"].pk)
        page = serializer.save()
        status_cache.invalidate_pages([page.slug])

    def perform_update(self, serializer):
        if "team" in serializer.validated_data:
            self.require(serializer.validated_data["team"].pk)
        old_slug = serializer.instance.slug
        page = serializer.save(updated_at=timezone.now())
        status_cache.invalidate_pages([old_slug, page.slug])

    def perform_destroy(self, instance):
        status_cache.invalidate_pages([instance.slug])
        instance.delete()


class ComponentSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Component
        fields = [
            "id", "page", "group", "name", "description", "translations", "services",
            "position", "only_show_if_degraded", "status", "derived_status", "override_status",
            "override_until", "status_changed_at",
        ]  # fmt: skip
        read_only_fields = ["derived_status", "override_status", "override_until",
                            "status_changed_at"]  # fmt: skip

    def get_status(self, component) -> str:
        return component.status_at(timezone.now())

    def validate_translations(self, value) -> dict:
        return _translations_field(clean_translations, value, {"name": 120, "description": 500})

    def validate(self, attrs):
        page = attrs.get("page") or getattr(self.instance, "page", None)
        for service in attrs.get("services", []):
            if page is not None and service.team_id != page.team_id:
                raise serializers.ValidationError(
                    {"services": [f"service {service.slug} belongs to another team"]}
                )
        group = attrs.get("group")
        if group is not None and page is not None and group.page_id != page.pk:
            raise serializers.ValidationError({"group": ["the group belongs to another page"]})
        return attrs


class ComponentOverrideSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ComponentStatus.choices)
    until = serializers.DateTimeField()


class ComponentViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    queryset = Component.objects.select_related("page").prefetch_related("services")
    serializer_class = ComponentSerializer
    team_field = "page__team_id"
    write_action = Action.CONFIGURE
    action_permissions = {"override": Action.RESPOND, "clear_override": Action.RESPOND}
    filterset_fields = ["page"]
    ordering = ["page", "position", "id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["page"].team_id)
        component = serializer.save()
        components.refresh_components_for_service_ids(
            service_ids=[s.pk for s in component.services.all()]
        )
        status_cache.invalidate_pages([component.page.slug])

    def perform_update(self, serializer):
        if "page" in serializer.validated_data:
            self.require(serializer.validated_data["page"].team_id)
        component = serializer.save()
        components.refresh_components_for_service_ids(
            service_ids=[s.pk for s in component.services.all()], component_ids=[component.pk]
        )
        status_cache.invalidate_pages([component.page.slug])

    def perform_destroy(self, instance):
        status_cache.invalidate_pages([instance.page.slug])
        instance.delete()

    @extend_schema(request=ComponentOverrideSerializer, responses=ComponentSerializer)
    @action(detail=True, methods=["post"])
    def override(self, request, pk=None):
        """Show a state by hand until a set time (then the incidents decide again)."""
        component = self.get_object()
        body = ComponentOverrideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        component = components.set_override(
            component=component,
            status=body.validated_data["status"],
            until=body.validated_data["until"],
            actor=Actor.of_request(request),
        )
        return Response(ComponentSerializer(component).data)

    @extend_schema(request=None, responses=ComponentSerializer)
    @action(detail=True, methods=["post"], url_path="clear-override")
    def clear_override(self, request, pk=None):
        component = components.clear_override(
            component=self.get_object(), actor=Actor.of_request(request)
        )
        return Response(ComponentSerializer(component).data)


class ComponentGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = ComponentGroup
        fields = ["id", "page", "name", "translations", "position"]

    def validate_translations(self, value) -> dict:
        return _translations_field(clean_translations, value, {"name": 120})


def _translations_field(clean, *args):
    """A statuspage.languages check as a field error."""
    try:
        return clean(*args)
    except InvalidStatusInput as exc:
        raise serializers.ValidationError(exc.message) from None


class ComponentGroupViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    queryset = ComponentGroup.objects.select_related("page")
    serializer_class = ComponentGroupSerializer
    team_field = "page__team_id"
    write_action = Action.CONFIGURE
    filterset_fields = ["page"]
    ordering = ["page", "position", "id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["page"].team_id)
        group = serializer.save()
        status_cache.invalidate_pages([group.page.slug])


# --- templates ----------------------------------------------------------------------------


class TemplateSerializer(serializers.ModelSerializer):
    match_labels = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False
    )
    min_severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
    max_severity = serializers.IntegerField(min_value=1, max_value=5, required=False)
    next_update_minutes = serializers.IntegerField(min_value=1, max_value=10080, required=False)

    class Meta:
        model = CommunicationTemplate
        fields = [
            "id", "team", "name", "services", "min_severity", "max_severity", "match_cause",
            "match_labels", "title", "body", "workaround", "next_update_minutes",
            "degradation_message", "translations", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "translations": {
                "help_text": 'The texts in other languages: {"de": {"title": ..., "body": '
                '..., "workaround": ..., "degradation_message": ...}}; placeholders as above.'
            }
        }

    def validate_translations(self, value) -> dict:
        return templates.clean_template_translations(value)

    def validate(self, attrs):
        def value(name, default=""):
            return attrs.get(name, getattr(self.instance, name, default))

        templates.check_placeholders(
            title=value("title"),
            body=value("body"),
            workaround=value("workaround"),
            degradation_message=value("degradation_message"),
        )
        templates.validate_matchers(
            match_labels=value("match_labels", {}),
            min_severity=value("min_severity", 1),
            max_severity=value("max_severity", 5),
        )
        team = value("team", None)
        for service in attrs.get("services", []):
            if team is not None and service.team_id != team.pk:
                raise serializers.ValidationError(
                    {"services": [f"service {service.slug} belongs to another team"]}
                )
        for field in ("title", "body", "workaround", "degradation_message", "name"):
            if "\x00" in (attrs.get(field) or ""):
                raise serializers.ValidationError({field: ["NUL characters are not allowed"]})
        return attrs


class TemplateViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    queryset = CommunicationTemplate.objects.prefetch_related("services")
    serializer_class = TemplateSerializer
    write_action = Action.CONFIGURE
    ordering = ["name", "id"]

    def perform_create(self, serializer):
        self.require(serializer.validated_data["team"].pk)
        serializer.save()

    def perform_update(self, serializer):
        if "team" in serializer.validated_data:
            self.require(serializer.validated_data["team"].pk)
        serializer.save()


# --- updates ------------------------------------------------------------------------------


class PublicUpdateSerializer(serializers.ModelSerializer):
    page = serializers.SlugRelatedField(
        source="public_incident.page", slug_field="slug", read_only=True
    )
    incident = serializers.IntegerField(source="public_incident.incident_id", read_only=True)
    public_incident_name = serializers.CharField(source="public_incident.name", read_only=True)
    is_draft = serializers.BooleanField(read_only=True)

    class Meta:
        model = PublicUpdate
        fields = ["id", "page", "incident", "public_incident_name", "status", "body",
                  "translations", "is_draft", "created_at", "posted_at"]  # fmt: skip


_UPDATE_TRANSLATIONS_HELP = (
    'The words in the page\'s other languages: {"de": {"body": ..., "name": ..., '
    '"degradation_message": ...}}.'
)


class PostUpdateSerializer(serializers.Serializer):
    page = serializers.SlugField(max_length=64)
    incident = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=UpdateStatus.choices)
    body = serializers.CharField(max_length=5000)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    degradation_message = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="What the avatar says while the incident is active (replaces the template's).",
    )
    translations = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
        required=False,
        help_text=_UPDATE_TRANSLATIONS_HELP,
    )


class ApproveSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000, required=False)
    translations = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)),
        required=False,
        help_text='Edited words in the page\'s other languages: {"de": {"body": ...}}.',
    )


class PublicUpdateViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):  # fmt: skip
    queryset = PublicUpdate.objects.select_related("public_incident__page")
    serializer_class = PublicUpdateSerializer
    team_field = "public_incident__page__team_id"
    write_action = Action.RESPOND
    filterset_fields = ["public_incident__incident", "status"]
    ordering = ["-created_at", "-id"]

    @extend_schema(request=PostUpdateSerializer, responses={201: PublicUpdateSerializer})
    def create(self, request):
        """Post a public update about an incident (replaces a draft waiting for approval)."""
        body = PostUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        team_ids = self.visible_team_ids()
        page = StatusPage.objects.filter(slug=data["page"], team_id__in=team_ids).first()
        incident = Incident.objects.filter(pk=data["incident"], team_id__in=team_ids).first()
        if page is None or incident is None:
            raise InvalidStatusInput("unknown status page or incident")
        self.require(page.team_id)
        update = updates.post_update(
            page=page,
            incident=incident,
            status=data["status"],
            body=data["body"],
            name=data.get("name", ""),
            degradation_message=data.get("degradation_message"),
            translations=data.get("translations"),
            actor=Actor.of_request(request),
        )
        return Response(PublicUpdateSerializer(update).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ApproveSerializer, responses=PublicUpdateSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Post a drafted update (one click), optionally with edited words."""
        update = self.get_object()
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        update = updates.approve_draft(
            update=update,
            actor=Actor.of_request(request),
            body=body.validated_data.get("body"),
            translations=body.validated_data.get("translations"),
        )
        return Response(PublicUpdateSerializer(update).data)


# --- subscribers --------------------------------------------------------------------------


class SubscriberSerializer(serializers.ModelSerializer):
    target = serializers.CharField(max_length=500)

    class Meta:
        model = Subscriber
        fields = ["id", "page", "kind", "target", "created_at", "confirmed_at",
                  "unsubscribed_at"]  # fmt: skip
        read_only_fields = ["created_at", "confirmed_at", "unsubscribed_at"]


class SubscriberCreatedSerializer(SubscriberSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs webhook deliveries; shown once."
    )

    class Meta(SubscriberSerializer.Meta):
        fields = [*SubscriberSerializer.Meta.fields, "secret"]


class SubscriberViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin, mixins.DestroyModelMixin,
                        viewsets.GenericViewSet):  # fmt: skip
    queryset = Subscriber.objects.select_related("page")
    serializer_class = SubscriberSerializer
    team_field = "page__team_id"
    write_action = Action.CONFIGURE
    filterset_fields = ["page", "kind"]
    ordering = ["-created_at", "-id"]

    @extend_schema(responses={201: SubscriberCreatedSerializer})
    def create(self, request):
        """Add a webhook (active at once, signed with the returned secret) or an email
        subscriber (who must confirm through the mailed link)."""
        body = SubscriberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        page = body.validated_data["page"]
        if page.team_id not in self.visible_team_ids():
            raise InvalidStatusInput("unknown status page")
        self.require(page.team_id)
        subscriber = subscribers.subscribe(
            page=page,
            kind=body.validated_data["kind"],
            target=body.validated_data["target"],
            actor=Actor.of_request(request),
        )
        data = SubscriberCreatedSerializer(subscriber).data
        if subscriber.kind != SubscriberKind.WEBHOOK:
            data.pop("secret")
        return Response(data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        subscribers.unsubscribe(page=instance.page, token=subscribers.unsubscribe_token(instance))


# --- maintenance --------------------------------------------------------------------------


class MaintenanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = MaintenanceWindow
        fields = ["id", "page", "title", "body", "translations", "components", "starts_at",
                  "ends_at", "status", "started_at", "completed_at"]  # fmt: skip
        read_only_fields = ["status", "started_at", "completed_at"]

    def validate_translations(self, value) -> dict:
        return _translations_field(clean_translations, value, {"title": 200, "body": 5000})


class MaintenanceViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         mixins.CreateModelMixin, viewsets.GenericViewSet):  # fmt: skip
    queryset = MaintenanceWindow.objects.select_related("page").prefetch_related("components")
    serializer_class = MaintenanceSerializer
    team_field = "page__team_id"
    write_action = Action.RESPOND
    filterset_fields = ["page", "status"]
    ordering = ["starts_at", "id"]

    def create(self, request):
        body = MaintenanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["page"].team_id not in self.visible_team_ids():
            raise InvalidStatusInput("unknown status page")
        self.require(data["page"].team_id)
        window = maintenance.schedule_window(
            page=data["page"],
            title=data["title"],
            body=data.get("body", ""),
            translations=data.get("translations") or {},
            components=list(data.get("components", [])),
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            actor=Actor.of_request(request),
        )
        return Response(MaintenanceSerializer(window).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MaintenanceSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """End the window now; whatever still fails opens its incident."""
        window = maintenance.complete_window(
            window=self.get_object(), actor=Actor.of_request(request)
        )
        return Response(MaintenanceSerializer(window).data)


# --- degradation --------------------------------------------------------------------------

DegradationResponse = inline_serializer(
    "Degradation",
    {
        "service": serializers.CharField(),
        "state": serializers.ChoiceField(choices=ComponentStatus.choices),
        "degraded": serializers.BooleanField(),
        "language": serializers.CharField(help_text="The language of `message`."),
        "message": serializers.CharField(),
        "messages": serializers.DictField(
            child=serializers.CharField(), help_text="The message in each page language."
        ),
        "since": serializers.DateTimeField(allow_null=True),
    },
)


def _degradation_entry(slug: str) -> dict:
    """The cached answer of one service: a body and an ETag per page language."""
    service = Service.objects.filter(slug=slug).first()
    if service is None:
        return {"missing": True}
    state = current(service)
    variants = {}
    for language in state.languages:
        body = json.dumps(
            {"service": slug, **state.as_dict(language)}, cls=DjangoJSONEncoder
        ).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        variants[language] = (body, etag)
    public = "public" if state.public else "private"
    return {
        "team_id": service.team_id,
        "public": state.public,
        "languages": list(variants),
        "variants": variants,
        "cache_control": f"{public}, max-age=5, must-revalidate",
    }


def degradation_answer(request, slug: str, *, authenticated: bool) -> HttpResponse | None:
    """The answer from cache, or None when it needs the caller's token (``authenticated``
    False: the caller has not been authenticated yet). The polled path: no DRF, no database,
    and for a matching ``If-None-Match`` an empty 304."""
    if not _SLUG.fullmatch(slug):  # no service has such a slug; keeps cache keys clean
        return _not_found()
    entry = status_cache.cached(
        status_cache.DEGRADATION_SCOPE, f"service:{slug}", lambda: _degradation_entry(slug)
    )
    if entry.get("missing"):
        return _not_found()
    if not entry["public"]:
        if not authenticated:
            return None
        if not can(request.user, entry["team_id"], Action.VIEW):
            return _not_found()
    languages = entry["languages"]
    language = languages[0]
    if len(languages) > 1:
        language = negotiate(
            languages,
            query=request.GET.get("lang"),
            accept=request.headers.get("Accept-Language", ""),
        )
    body, etag = entry["variants"][language]
    match = request.headers.get("If-None-Match")
    if match and etag in match and etag in _etags(match):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = entry["cache_control"]
    response["Content-Language"] = language
    if len(languages) > 1:
        response["Vary"] = "Accept-Language"
    return response


class DegradationView(APIView):
    """``GET /api/v1/services/<slug>/degradation``: served from cache, ETag/If-None-Match.

    The URL points at ``degradation_view``, which answers public services without entering
    DRF; this class authenticates the callers of services that are not public (and documents
    the endpoint)."""

    permission_classes = [AllowAny]
    # Served from cache and meant to be polled every few seconds by every avatar: the per-
    # caller API budget (one Redis round trip) would cost more than the answer.
    throttle_classes: list = []

    @extend_schema(
        operation_id="service_degradation",
        parameters=[
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER),
            OpenApiParameter("Accept-Language", OpenApiTypes.STR, OpenApiParameter.HEADER),
            OpenApiParameter(
                "lang",
                OpenApiTypes.STR,
                description="A language of the status pages (wins over Accept-Language); "
                "the pages' default language when they do not speak it.",
            ),
        ],
        responses={200: DegradationResponse, 304: OpenApiResponse(description="Not modified")},
    )
    def get(self, request, slug: str):
        """The service's state for its users and what the avatar should say, in the reader's
        language among the pages' languages. Public when a status page showing the service
        allows it; otherwise a team member's token (read-only is enough)."""
        return degradation_answer(request, slug, authenticated=True)


_drf_degradation = DegradationView.as_view()


def degradation_view(request, slug: str):
    if request.method in ("GET", "HEAD"):
        response = degradation_answer(request, slug, authenticated=False)
        if response is not None:
            return response
    return _drf_degradation(request, slug=slug)


# drf-spectacular (and DRF's tooling) find the view class through these, as on as_view().
degradation_view.cls = DegradationView
degradation_view.initkwargs = getattr(_drf_degradation, "initkwargs", {})
degradation_view.csrf_exempt = True


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")[:20] if tag.strip()}


def _not_found() -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": {"code": "not_found", "message": "No such service.", "fields": {}}}),
        content_type="application/json",
        status=404,
    )


def register(router) -> None:
    router.register("status-pages", StatusPageViewSet, basename="status-page")
    router.register("status-components", ComponentViewSet, basename="status-component")
    router.register("status-component-groups", ComponentGroupViewSet, basename="status-group")
    router.register("status-templates", TemplateViewSet, basename="status-template")
    router.register("status-updates", PublicUpdateViewSet, basename="status-update")
    router.register("status-subscribers", SubscriberViewSet, basename="status-subscriber")
    router.register("status-maintenances", MaintenanceViewSet, basename="status-maintenance")


# The degradation route is the first of config/urls.py (matched before everything else).
urlpatterns: list = []
