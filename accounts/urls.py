from django.urls import path

from accounts import views

urlpatterns = [
    path("team/switch/", views.switch_team, name="switch-team"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke-api-token"),
]
