"""How a "send test" answers: the result in place (htmx) or back on the page it came from.

The channel's own test URL lives in oncall.pages (it can also re-render the channel page);
a person's contact method is tested by its owner only (anyone else gets 404), and a delivered
test marks the method verified (oncall.configure.verify_contact_method).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.web import see_other
from incidents.actors import Actor
from oncall import configure
from oncall.models import ContactMethod


def answer_test(request: HttpRequest, result, name: str) -> HttpResponse:
    """htmx: the result fragment; a plain post: a message on the page named by ``next``."""
    if request.htmx:
        return render(request, "oncall/_send_result.html", {"result": result, "name": name})
    if result.ok:
        text = _("Test message to %(name)s delivered.") % {"name": name}
    else:
        text = _("Test message to %(name)s failed: %(error)s") % {
            "name": name,
            "error": result.error,
        }
    (messages.success if result.ok else messages.error)(request, text)
    back = request.POST.get("next") or request.headers.get("Referer") or "/oncall/"
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = "/oncall/"
    return see_other(back)


@login_required
@require_POST
def test_contact_method(request: HttpRequest, pk: int) -> HttpResponse:
    method = ContactMethod.objects.filter(pk=pk, user=request.user).first()
    if method is None:
        raise Http404("No such contact method")
    result = configure.verify_contact_method(method=method, actor=Actor.of_request(request))
    return answer_test(request, result, f"{method.get_kind_display()} {method.target}")
