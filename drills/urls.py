from django.urls import path

from drills import views

app_name = "drills"

urlpatterns = [
    path("", views.drill_list, name="list"),
    path("new/", views.drill_new, name="new"),
    path("<int:pk>/", views.drill_detail, name="detail"),
    path("<int:pk>/start/", views.drill_start, name="start"),
    path("<int:pk>/abort/", views.drill_abort, name="abort"),
    path("<int:pk>/findings/", views.drill_findings, name="findings"),
    path("<int:pk>/action-items/", views.drill_action_items, name="action-items"),
]
