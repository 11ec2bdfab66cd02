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


urlpatterns = [path("bench/insert", bare_insert), *app_urlpatterns]
