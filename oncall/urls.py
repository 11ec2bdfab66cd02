from django.urls import path

from oncall import channel_views, pages, views

app_name = "oncall"

urlpatterns = [
    path("", views.on_call_now, name="now"),
    path("ack/<str:token>/", views.acknowledge_link, name="ack"),
    path(
        "contact-methods/<int:pk>/test/",
        channel_views.test_contact_method,
        name="contact-method-test",
    ),
    path("rotations/<int:pk>/calendar.ics", views.rotation_calendar, name="rotation-calendar"),
    path("notifications/<int:pk>/mail/", views.notification_mail, name="notification-mail"),
    # Set-up pages (oncall.pages).
    path("setup/", pages.setup_overview, name="setup"),
    path("policies/new/", pages.policy_new, name="policy-new"),
    path("policies/<int:pk>/", pages.policy_edit, name="policy"),
    path("policies/<int:pk>/delete/", pages.policy_delete, name="policy-delete"),
    path("policies/<int:pk>/actions/new/", pages.action_new, name="action-new"),
    path("actions/<int:pk>/", pages.action_edit, name="action"),
    path("actions/<int:pk>/delete/", pages.action_delete, name="action-delete"),
    path("actions/<int:pk>/test/", pages.action_test, name="action-test"),
    path("services/<slug:slug>/policy/", pages.service_policy, name="service-policy"),
    path("rotations/new/", pages.rotation_new, name="rotation-new"),
    path("rotations/<int:pk>/", pages.rotation_edit, name="rotation"),
    path("rotations/<int:pk>/overrides/", pages.override_add, name="override-add"),
    path(
        "rotations/<int:pk>/overrides/<int:override_pk>/delete/",
        pages.override_remove,
        name="override-remove",
    ),
    path("rotations/<int:pk>/swap/", pages.shift_swap, name="shift-swap"),
    path("channels/new/", pages.channel_new, name="channel-new"),
    path("channels/<int:pk>/", pages.channel_edit, name="channel"),
    path("channels/<int:pk>/test/", pages.channel_test, name="channel-test"),
    path("me/", pages.my_profile, name="profile"),
    path("me/contact-methods/", pages.contact_methods, name="contact-methods"),
    path(
        "me/contact-methods/<int:pk>/delete/",
        pages.contact_method_remove,
        name="contact-method-remove",
    ),
    path(
        "me/contact-methods/<int:pk>/verify/",
        pages.contact_method_verify,
        name="contact-method-verify",
    ),
    path("me/notification-rules/", pages.notification_rule_add, name="notification-rule-add"),
    path(
        "me/notification-rules/<int:pk>/delete/",
        pages.notification_rule_remove,
        name="notification-rule-remove",
    ),
    path(
        "me/contact-methods/<int:pk>/move/<str:direction>/",
        pages.contact_method_move,
        name="contact-method-move",
    ),
]
