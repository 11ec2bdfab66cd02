from django.urls import path, re_path

from monitoring import views

# healthchecks.io conventions, with or without a trailing slash so existing wrappers work.
UUID = r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"

urlpatterns = [
    re_path(rf"^ping/{UUID}/?$", views.ping_success, name="ping"),
    re_path(rf"^ping/{UUID}/start/?$", views.ping_start, name="ping-start"),
    re_path(rf"^ping/{UUID}/fail/?$", views.ping_fail, name="ping-fail"),
    re_path(
        rf"^ping/{UUID}/(?P<exit_status>[0-9]{{1,3}})/?$", views.ping_exit_status, name="ping-exit"
    ),
    path("metrics", views.metrics_view, name="metrics"),
    path("monitors/", views.monitor_list, name="monitor-list"),
]
