from django.urls import path

from runbooks import views

app_name = "runbooks"

urlpatterns = [
    path("", views.runbook_list, name="list"),
    path("new/", views.runbook_create, name="create"),
    path("preview/", views.markdown_preview, name="preview"),
    path("<int:pk>/", views.runbook_detail, name="detail"),
    path("<int:pk>/edit/", views.runbook_edit, name="edit"),
    path("<int:pk>/review/", views.runbook_review, name="review"),
    path("<int:pk>/revisions/", views.runbook_revisions, name="revisions"),
    path("incident/<int:incident_pk>/", views.incident_runbooks, name="incident"),
    path("incident/<int:incident_pk>/attach/", views.incident_attach, name="attach"),
    path("runs/<int:run_pk>/steps/<int:step_pk>/tick/", views.step_tick, name="tick"),
    path(
        "runs/<int:run_pk>/steps/<int:step_pk>/run-action/",
        views.step_run_action,
        name="run-action",
    ),
]
