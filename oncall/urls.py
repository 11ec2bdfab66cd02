from django.urls import path

from oncall import views

app_name = "oncall"

urlpatterns = [
    path("", views.on_call_now, name="now"),
    path("ack/<str:token>/", views.acknowledge_link, name="ack"),
    path("rotations/<int:pk>/calendar.ics", views.rotation_calendar, name="rotation-calendar"),
]
