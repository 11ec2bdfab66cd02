"""Stable webhook contracts (DESIGN.md). Mounted at the site root by config/urls.py."""

from django.urls import path

from incidents.ingest import views

urlpatterns = [
    path(
        "hooks/alertmanager/<str:token>",
        views.receive_webhook,
        {"kind": "alertmanager"},
        name="hook-alertmanager",
    ),
    path(
        "hooks/grafana/<str:token>", views.receive_webhook, {"kind": "grafana"}, name="hook-grafana"
    ),
    path(
        "hooks/generic/<str:token>", views.receive_webhook, {"kind": "generic"}, name="hook-generic"
    ),
    path("v2/enqueue", views.pagerduty_enqueue, name="pagerduty-enqueue"),
]
