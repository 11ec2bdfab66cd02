"""Markdown beyond the documented limits (incidents/markdown.py) is refused on save and preview
with a 400 naming the limit, and shown as escaped plain text if it was stored before."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from incidents.markdown import MAX_MARKDOWN_CHARS, markdown_problem, render_markdown
from tests.postmortems.factories import draft_for

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * (MAX_MARKDOWN_CHARS + 1)
TOO_DEEP = "> " * 17 + "deep"
TOO_MUCH_MARKUP = "[" * 9_000


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "text, words",
    [(TOO_LONG, "100,000 characters"), (TOO_DEEP, "deeper than 16"), (TOO_MUCH_MARKUP, "8,000")],
)
def test_preview_beyond_the_limits_is_a_400_naming_the_limit(client, responder, text, words):
    client.force_login(responder)
    response = client.post("/runbooks/preview/", {"body": text}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert words in response.content.decode()


def test_preview_within_the_limits_renders(client, responder):
    client.force_login(responder)
    response = client.post("/runbooks/preview/", {"body": "> " * 16 + "**ok**"})
    assert response.status_code == 200
    assert "<strong>ok</strong>" in response.content.decode()


def test_runbook_api_refuses_a_body_beyond_the_limits(team, manager):
    payload = {"team": team.pk, "title": "Big", "body": TOO_DEEP, "steps": []}
    response = api(manager).post("/api/v1/runbooks/", payload, format="json")
    assert response.status_code == 400
    assert "body" in response.json()["error"]["fields"]


def test_postmortem_api_refuses_prose_beyond_the_limits(service, manager):
    postmortem = draft_for(service, manager)
    response = api(manager).patch(
        f"/api/v1/postmortems/{postmortem.pk}/", {"summary": TOO_MUCH_MARKUP}, format="json"
    )
    assert response.status_code == 400
    assert "summary" in response.json()["error"]["fields"]


def test_text_stored_before_the_limits_is_shown_as_escaped_plain_text():
    html = str(render_markdown(TOO_DEEP + "\n<script>alert(1)</script>"))
    assert "<blockquote>" not in html and "<script>" not in html
    assert "&gt; &gt;" in html and "&lt;script&gt;" in html


def test_nul_in_markdown_is_a_problem():
    assert "NUL" in markdown_problem("a\x00b")
