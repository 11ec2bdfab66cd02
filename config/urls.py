from django.contrib import admin
from django.urls import include, path

from accounts import sso
from accounts.login import ThrottledLoginView
from config import health
from statuspage.api import degradation_view

urlpatterns = [
    # Polled every few seconds by every avatar and answered from memory: matched first, since
    # walking the patterns below cost as much as the whole answer (docs/statuspage.md).
    path("api/v1/services/<str:slug>/degradation", degradation_view, name="service-degradation"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    # Ends a single sign-on session at the provider too (accounts/sso.py).
    path("logout/", sso.logout, name="logout"),
    path("", include("accounts.sso")),
    path("api/v1/", include("config.api_urls")),
    # Public and read from cache: resolved before the catch-all prefixes below.
    path("status/", include("statuspage.urls")),
    # Each app owns its URL module; the stable contracts (DESIGN.md) live in them.
    path("", include("incidents.ingest.urls")),
    path("", include("incidents.urls")),
    path("", include("monitoring.urls")),
    path("oncall/", include("oncall.urls")),
    path("runbooks/", include("runbooks.urls")),
    path("postmortems/", include("postmortems.urls")),
    path("llm/", include("llm.urls")),
    path("analytics/", include("analytics.urls")),
    path("drills/", include("drills.urls")),
    path("", include("accounts.urls")),
]
