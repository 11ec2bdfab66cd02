"""The OpenAPI schema: generates cleanly, and the live API conforms to it under fuzzing."""

from __future__ import annotations

from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import Role
from tests.api.factories import open_incident
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory


def test_schema_generates_without_warnings_or_errors(db):
    out = StringIO()
    # --fail-on-warn turns any warning into a non-zero exit (CommandError/SystemExit).
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=StringIO())
    schema = out.getvalue()
    assert "/api/v1/incidents/{id}/acknowledge/" in schema
    assert "bearerAuth" in schema


def test_schema_and_docs_are_served(client, db):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "<style" not in html and "<script>" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


# Loaded from the running WSGI app when the module is imported (schemathesis' fixture-based
# lazy loader reads a pytest-internal attribute that pytest 9 removed). The schema view needs
# neither database nor credentials.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def _keep_test_connection():
    """The WSGI handler closes connections whose autocommit differs from the settings, which is
    the test's open transaction; Django's own test client switches this off the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_headers(db, make_client, _keep_test_connection):
    """A token of a manager whose team has services and incidents, plus another team's data."""
    team = TeamFactory()
    user = MembershipFactory(team=team, role=Role.MANAGER).user
    for i in range(3):
        open_incident(ServiceFactory(team=team), title=f"Incident {i}")
    open_incident(ServiceFactory(team=TeamFactory()))
    return {"Authorization": f"Bearer {make_client(user).plaintext}"}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, fuzz_headers):
    """No 5xx, and every response (status, headers, body) is one the schema documents.

    positive_data_acceptance is off: a schema-valid request may rightly be refused with 400
    when it names an object that does not exist (``"service": 0``) or carries a cursor that is
    not one we issued; cursors are opaque strings in the schema by design.
    """
    case.call_and_validate(headers=fuzz_headers, excluded_checks=[positive_data_acceptance])
