from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.report_page, name="report"),
    path("roi/", views.roi_page, name="roi"),
    path("export/<slug:name>.csv", views.export_csv, name="export"),
    path("incidents/<int:pk>/score/", views.score_incident, name="score"),
]
