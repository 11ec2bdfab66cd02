from django.urls import path

from llm import views

urlpatterns = [
    path("", views.overview, name="llm-overview"),
    path("<slug:slug>/", views.health, name="llm-health"),
    path("<slug:slug>/normal/", views.normal, name="llm-normal"),
    path("<slug:slug>/endpoints/", views.endpoint_list, name="llm-endpoints"),
    path(
        "<slug:slug>/endpoints/<int:pk>/delete/", views.endpoint_delete, name="llm-endpoint-delete"
    ),
    path("<slug:slug>/policy/", views.policy, name="llm-policy"),
]
