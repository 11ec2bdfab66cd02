from __future__ import annotations

from ipaddress import ip_network

import pytest
from django.utils import timezone

from monitoring import engine
from monitoring.models import ErrorCategory
from tests.monitoring.factories import ProbeFactory

pytestmark = pytest.mark.django_db


def run(probe):
    engine.run_batch([probe.pk], claimed_at=timezone.now())
    return probe.results.get()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
    ],
)
def test_private_and_metadata_addresses_are_refused_with_a_clear_error(service, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    result = run(ProbeFactory(service=service, url=url))
    assert result.error == ErrorCategory.BLOCKED
    assert "private, loopback, link-local or metadata address" in result.message
    assert "PROBE_ALLOWED_NETWORKS" in result.message


def test_loopback_refused_unless_allowed(target, service, settings):
    probe = ProbeFactory(service=service, url=target.url)
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    assert run(probe).error == ErrorCategory.BLOCKED
    assert target.hits == 0

    probe.results.all().delete()
    settings.OUTBOUND_ALLOWED_NETWORKS = [ip_network("127.0.0.0/8")]
    assert run(probe).ok and target.hits == 1


def test_redirect_to_a_private_address_is_refused(target, service):
    # 127.0.0.1 is allowed for the test server, 10.0.0.1 is not: the hop is checked too.
    target.mode = "redirect-private"
    result = run(ProbeFactory(service=service, url=target.url))
    assert result.error == ErrorCategory.BLOCKED and "10.0.0.1" in result.message


@pytest.mark.parametrize(("hops", "ok"), [(3, True), (4, False)])
def test_at_most_three_redirects_are_followed(target, service, hops, ok):
    target.mode = "redirecting"
    result = run(ProbeFactory(service=service, url=f"http://127.0.0.1:{target.port}/hops/{hops}"))
    assert result.ok is ok
    if not ok:
        assert result.message == "more than 3 redirects"
