"""REST API v1: one router, each app registers its viewsets from its own ``api.register``."""

from importlib import import_module

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

API_APPS = [
    "accounts",
    "incidents",
    "oncall",
    "monitoring",
    "runbooks",
    "postmortems",
    "statuspage",
]

router = DefaultRouter()
extra_patterns = []
for app_label in API_APPS:
    module = import_module(f"{app_label}.api")
    module.register(router)
    extra_patterns += getattr(module, "urlpatterns", [])

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *extra_patterns,
    path("", include(router.urls)),
]
