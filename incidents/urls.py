from django.urls import path

from incidents import views
from incidents.views import catalog

urlpatterns = [
    path("", views.home, name="home"),
    path("incidents/", views.board, name="incident-board"),
    path("incidents/new/", views.declare_incident, name="incident-declare"),
    path("incidents/bulk/", views.board_bulk, name="incident-bulk"),
    path("incidents/attention/", views.attention, name="incident-attention"),
    path("incidents/<int:pk>/", views.incident_room, name="incident-room"),
    path("incidents/<int:pk>/<slug:action>/", views.incident_action, name="incident-action"),
    path("services/", views.services_overview, name="services-overview"),
    path("services/new/", catalog.service_new, name="service-new"),
    path("services/<slug:slug>/", catalog.service_page, name="service-page"),
    path("services/<slug:slug>/edit/", catalog.service_edit, name="service-edit"),
    path("services/<slug:slug>/archive/", catalog.service_archive, name="service-archive"),
    path("services/<slug:slug>/restore/", catalog.service_restore, name="service-restore"),
    path(
        "services/<slug:slug>/integrations/new/",
        catalog.integration_new,
        name="integration-new",
    ),
    path(
        "services/<slug:slug>/integrations/<int:pk>/",
        catalog.integration_page,
        name="integration-page",
    ),
    path(
        "services/<slug:slug>/integrations/<int:pk>/severities/",
        catalog.integration_severities,
        name="integration-severities",
    ),
    path(
        "services/<slug:slug>/integrations/<int:pk>/rotate/",
        catalog.integration_rotate,
        name="integration-rotate",
    ),
    path(
        "services/<slug:slug>/integrations/<int:pk>/deactivate/",
        catalog.integration_deactivate,
        name="integration-deactivate",
    ),
    path(
        "services/<slug:slug>/integrations/<int:pk>/reactivate/",
        catalog.integration_reactivate,
        name="integration-reactivate",
    ),
]
