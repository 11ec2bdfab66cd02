from django.urls import path

from postmortems import views

app_name = "postmortems"

urlpatterns = [
    path("", views.postmortem_list, name="list"),
    path("search/", views.knowledge_search, name="search"),
    path("review/", views.manager_review, name="review"),
    path("settings/", views.team_settings, name="settings"),
    path("create/<int:incident_pk>/", views.postmortem_create, name="create"),
    path("<int:pk>/", views.postmortem_detail, name="detail"),
    path("<int:pk>/edit/", views.postmortem_edit, name="edit"),
    path("<int:pk>/blameless-check/", views.blameless_check, name="blameless-check"),
    path("<int:pk>/submit/", views.postmortem_submit, name="submit"),
    path("<int:pk>/publish/", views.postmortem_publish, name="publish"),
    path("<int:pk>/return/", views.postmortem_return, name="return"),
    path("<int:pk>/comments/", views.comment_add, name="comment-add"),
    path("<int:pk>/whys/", views.why_add, name="why-add"),
    path("<int:pk>/whys/<int:node_pk>/edit/", views.why_edit, name="why-edit"),
    path("<int:pk>/whys/<int:node_pk>/move/", views.why_move, name="why-move"),
    path("<int:pk>/whys/<int:node_pk>/delete/", views.why_delete, name="why-delete"),
    path("<int:pk>/factors/", views.factor_add, name="factor-add"),
    path("<int:pk>/factors/<int:factor_pk>/delete/", views.factor_delete, name="factor-delete"),
    path("<int:pk>/items/", views.item_add, name="item-add"),
    path("<int:pk>/items/<int:item_pk>/status/", views.item_status, name="item-status"),
    path("<int:pk>/export.md", views.export_markdown, name="export-md"),
    path("<int:pk>/print/", views.printable, name="print"),
]
