from django.http import HttpResponse


def health(request, slug):
    return HttpResponse("")


normal = endpoint_list = health


def endpoint_delete(request, slug, pk):
    return HttpResponse("")
