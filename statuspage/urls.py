from django.urls import path

from statuspage import views

app_name = "statuspage"

urlpatterns = [
    path("", views.page_list, name="list"),
    path("incident/<int:incident_pk>/post/", views.post_from_room, name="post"),
    path("updates/<int:pk>/approve/", views.approve_update, name="approve"),
    path("updates/<int:pk>/discard/", views.discard_update, name="discard"),
    path("<slug:slug>/", views.status_page, name="page"),
    path("<slug:slug>/theme.css", views.theme_css, name="theme"),
    path("<slug:slug>/summary.json", views.summary_json, name="summary"),
    path("<slug:slug>/feed.atom", views.feed_atom, name="feed"),
    path("<slug:slug>/badge/<int:component_id>.svg", views.component_badge, name="badge"),
    path("<slug:slug>/subscribe/", views.subscribe, name="subscribe"),
    path("<slug:slug>/subscribe/confirm/<str:token>/", views.confirm_subscription, name="confirm"),
    path("<slug:slug>/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
