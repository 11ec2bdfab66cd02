from django.urls import path, re_path

from monitoring import pages, views

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
    path("monitors/", pages.monitor_overview, name="monitor-list"),
    path("services/<slug:slug>/probes/new/", pages.probe_new, name="probe-new"),
    path("monitors/probes/<int:pk>/", pages.probe_page, name="probe-page"),
    path("monitors/probes/<int:pk>/edit/", pages.probe_edit, name="probe-edit"),
    path("monitors/probes/<int:pk>/pause/", pages.probe_pause, name="probe-pause"),
    path("monitors/probes/<int:pk>/resume/", pages.probe_resume, name="probe-resume"),
    path("monitors/probes/<int:pk>/delete/", pages.probe_delete, name="probe-delete"),
    path("monitors/probes/<int:pk>/test/", pages.probe_test, name="probe-test"),
    path("services/<slug:slug>/heartbeats/new/", pages.heartbeat_new, name="heartbeat-new"),
    path("monitors/heartbeats/<int:pk>/", pages.heartbeat_page, name="heartbeat-page"),
    path("monitors/heartbeats/<int:pk>/edit/", pages.heartbeat_edit, name="heartbeat-edit"),
    path("monitors/heartbeats/<int:pk>/pause/", pages.heartbeat_pause, name="heartbeat-pause"),
    path("monitors/heartbeats/<int:pk>/resume/", pages.heartbeat_resume, name="heartbeat-resume"),
    path("monitors/heartbeats/<int:pk>/delete/", pages.heartbeat_delete, name="heartbeat-delete"),
]
