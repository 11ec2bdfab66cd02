"""REST API v1: one router, each app registers its viewsets from its own ``api.register``."""

from importlib import import_module

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from config.api import api_not_found

API_APPS = [
    "accounts",
    "incidents",
    "oncall",
    "monitoring",
    "runbooks",
    "postmortems",
    "statuspage",
    "llm",
    "analytics",
    "drills",
]

router = DefaultRouter()
extra_patterns = []
for app_label in API_APPS:
    module = import_module(f"{app_label}.api")
    module.register(router)
    extra_patterns += getattr(module, "urlpatterns", [])

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its JavaScript from a URL instead of an inline <script>, and our
    # template drops the inline <style>: the docs page works under the strict CSP.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    *extra_patterns,
    path("", include(router.urls)),
    re_path(r"^", api_not_found),
]
