from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    # The board replaces this once the triage UI lands.
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
]
