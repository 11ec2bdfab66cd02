from django.urls import path

from incidents import views

urlpatterns = [
    path("", views.home, name="home"),
    path("incidents/", views.board, name="incident-board"),
    path("incidents/new/", views.declare_incident, name="incident-declare"),
    path("incidents/<int:pk>/", views.incident_room, name="incident-room"),
    path("incidents/<int:pk>/<slug:action>/", views.incident_action, name="incident-action"),
    path("services/", views.services_overview, name="services-overview"),
]
