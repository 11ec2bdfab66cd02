"""Styled 404/403/500 pages with a way back (issue 17), rendered as in production (DEBUG off)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.template.loader import get_template
from django.test import Client, override_settings
from django.urls import include, path

from tests.factories import UserFactory


def _forbidden(request):
    raise PermissionDenied


def _broken(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("forbidden/", _forbidden),
    path("broken/", _broken),
    path("", include("config.urls")),
]


def _links(html: str) -> None:
    assert 'href="/incidents/"' in html and 'href="/"' in html
    assert "vigil.css" in html


@pytest.mark.django_db
@override_settings(DEBUG=False)
def test_404_is_styled_with_navigation_for_people_logged_in_or_not():
    anonymous = Client().get("/no-such-page/")
    assert anonymous.status_code == 404
    html = anonymous.content.decode()
    assert "This page does not exist" in html and "/no-such-page/" in html
    _links(html)
    client = Client()
    client.force_login(UserFactory())
    html = client.get("/incidents/999999999/").content.decode()
    assert "This page does not exist" in html and 'class="mainnav"' in html


@pytest.mark.django_db
@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_403_is_styled_with_navigation():
    response = Client().get("/forbidden/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You may not do this" in html
    _links(html)


@pytest.mark.django_db
@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_500_is_styled_with_navigation():
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    _links(html)


def test_500_template_needs_no_database_and_no_request():
    """No django_db mark: any query would fail the test; an empty context has no request."""
    html = get_template("500.html").render({})
    assert "Something went wrong on our side" in html
    _links(html)
