"""Property: whatever JSON a sender posts, the answer is 2xx or a 4xx, never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
any_json = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
words = st.sampled_from(
    ["firing", "resolved", "critical", "warning", "info", "trigger", "acknowledge", "resolve"]
)
loose = any_json | words


def maybe(strategy):
    return st.one_of(st.just(None), strategy)


alert_like = st.fixed_dictionaries(
    {},
    optional={
        "status": loose,
        "labels": st.dictionaries(st.text(max_size=10), st.text(max_size=10) | loose, max_size=4),
        "annotations": loose,
        "startsAt": st.sampled_from(["2026-11-25T09:51:03Z", "0001-01-01T00:00:00Z", ""]) | loose,
        "endsAt": loose,
        "fingerprint": st.text(max_size=10) | loose,
        "generatorURL": loose,
        "values": loose,
    },
)
envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "version": loose,
        "groupKey": st.text(max_size=10) | loose,
        "status": loose,
        "alerts": st.lists(alert_like, max_size=3) | loose,
        "groupLabels": loose,
        "commonLabels": loose,
        "commonAnnotations": loose,
        "externalURL": loose,
        "title": loose,
    },
)
generic_like = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=20) | loose,
        "dedup_key": loose,
        "severity": st.integers(-2, 8) | loose,
        "status": loose,
        "description": loose,
        "details": loose,
        "source_url": loose,
    },
)
pd_payload = st.fixed_dictionaries(
    {},
    optional={
        "summary": st.text(max_size=20) | loose,
        "source": st.text(max_size=10) | loose,
        "severity": loose,
        "timestamp": loose,
        "component": loose,
        "custom_details": loose,
    },
)
pd_like = st.fixed_dictionaries(
    {},
    optional={
        "event_action": loose,
        "dedup_key": loose,
        "payload": pd_payload | loose,
        "links": loose,
        "images": loose,
        "client": loose,
    },
)

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _post(client, path, document):
    body = json.dumps(document).encode()
    return client.post(path, data=body, content_type="application/json")


@SETTINGS
@given(document=any_json | envelope_like)
def test_alertmanager_never_500(alertmanager, client, document):
    _, token = alertmanager
    assert _post(client, f"/hooks/alertmanager/{token}", document).status_code in (202, 400)


@SETTINGS
@given(document=any_json | envelope_like)
def test_grafana_never_500(grafana, client, document):
    _, token = grafana
    assert _post(client, f"/hooks/grafana/{token}", document).status_code in (202, 400)


@SETTINGS
@given(document=any_json | generic_like)
def test_generic_never_500(generic, client, document):
    _, token = generic
    assert _post(client, f"/hooks/generic/{token}", document).status_code in (202, 400)


@SETTINGS
@given(document=any_json | pd_like, with_key=st.booleans())
def test_pagerduty_never_500(pagerduty, client, document, with_key):
    _, token = pagerduty
    if with_key and isinstance(document, dict):
        document = {**document, "routing_key": token}
    status = _post(client, "/v2/enqueue", document).status_code
    assert status in (202, 400, 404)
    if status == 400:
        body = _post(client, "/v2/enqueue", document).json()
        assert body["status"] == "invalid event" and body["errors"]
