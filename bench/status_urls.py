from django.http import HttpResponse
from django.urls import path

from bench.urls import urlpatterns as bench_urlpatterns


def bare_get(request):
    """The baseline of reads served from cache: a Django view answering a constant body."""
    return HttpResponse('{"ok": true}', content_type="application/json")


urlpatterns = [path("bench/get", bare_get), *bench_urlpatterns]
