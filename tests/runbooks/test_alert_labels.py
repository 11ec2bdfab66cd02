"""End to end with alert ingestion (incidents.ingest, merged separately): an Alertmanager
webhook's alert labels attach the matching runbook. Skipped where ingestion is absent."""

import pytest

from runbooks.models import RunbookRun
from tests.runbooks.factories import make_runbook

ingest_factories = pytest.importorskip("tests.ingest.factories")

pytestmark = pytest.mark.django_db(transaction=True)


def test_alertmanager_alert_labels_attach_the_matching_runbook(client, settings, team, service):
    settings.INGEST_APPLY_INLINE = True
    _, token = ingest_factories.make_integration(service, "alertmanager")
    make_runbook(team, title="Chat latency", match_labels={"alertname": "ChatLatency*"})
    make_runbook(team, title="Disk", match_labels={"alertname": "DiskFull"})
    response = client.post(
        f"/hooks/alertmanager/{token}",
        data=ingest_factories.fixture("alertmanager_v4_firing.json"),
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert list(RunbookRun.objects.values_list("runbook__title", flat=True)) == ["Chat latency"]
