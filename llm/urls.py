from django.urls import path

from llm import views

urlpatterns = [
    path("<slug:slug>/", views.health, name="llm-health"),
    path("<slug:slug>/normal/", views.normal, name="llm-normal"),
    path("<slug:slug>/endpoints/", views.endpoint_list, name="llm-endpoints"),
    path(
        "<slug:slug>/endpoints/<int:pk>/delete/", views.endpoint_delete, name="llm-endpoint-delete"
    ),
]
