from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns


@csrf_exempt
def bare_insert(request):
    """The baseline: a Django view that does one INSERT and answers, nothing else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline (path, body) VALUES (%s, %s)",
            [request.path, request.body[:2000].decode("utf-8", "replace")],
        )
    return HttpResponse("OK", content_type="text/plain")


def bare_get(request):
    """A bare Django GET: a small constant JSON answer, no database, no authentication."""
    return HttpResponse(b'{"ok":true}', content_type="application/json")


urlpatterns = [path("bench/insert", bare_insert), path("bench/get", bare_get), *app_urlpatterns]
