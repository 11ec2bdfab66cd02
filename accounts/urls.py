from django.urls import path

from accounts import team_pages, views

urlpatterns = [
    path("team/switch/", views.switch_team, name="switch-team"),
    path("team/", team_pages.my_team, name="my-team"),
    path("teams/<slug:slug>/", team_pages.team_page, name="team-page"),
    path("teams/<slug:slug>/members/<int:pk>/role/", team_pages.member_role, name="member-role"),
    path(
        "teams/<slug:slug>/members/<int:pk>/remove/", team_pages.member_remove, name="member-remove"
    ),
    path("teams/<slug:slug>/invites/", team_pages.invite_new, name="invite-new"),
    path(
        "teams/<slug:slug>/invites/<int:pk>/revoke/",
        team_pages.invite_revoke,
        name="invite-revoke",
    ),
    path("invite/<str:token>/", team_pages.accept_invite, name="accept-invite"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", views.revoke_api_token, name="revoke-api-token"),
]
