from django.urls import path

from accounts import views

urlpatterns = [
    path("team/switch/", views.switch_team, name="switch-team"),
]
