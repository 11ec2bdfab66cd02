from django.urls import path

from oncall import channel_views, views

app_name = "oncall"

urlpatterns = [
    path("", views.on_call_now, name="now"),
    path("ack/<str:token>/", views.acknowledge_link, name="ack"),
    path("channels/<int:pk>/test/", channel_views.test_channel, name="channel-test"),
    path(
        "contact-methods/<int:pk>/test/",
        channel_views.test_contact_method,
        name="contact-method-test",
    ),
    path("rotations/<int:pk>/calendar.ics", views.rotation_calendar, name="rotation-calendar"),
]
