"""Coalesced applying (issue 12): a batch applied by group gives what one-by-one gives, and a
new outage in a batch full of repeats is applied first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.ingest import alertmanager, coalescing
from incidents.ingest.services import accept_event, apply_pending_batch, apply_pending_events
from incidents.models import Alert, InboundEvent, Incident
from tests.ingest.factories import make_integration

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def delivery(group: str, alerts: dict[str, tuple[str, int]]) -> dict:
    """An Alertmanager group: ``alerts`` maps fingerprint -> (status, episode number)."""
    items = []
    for fingerprint, (status, episode) in sorted(alerts.items()):
        starts = BASE + timedelta(hours=episode)
        items.append(
            {
                "status": status,
                "labels": {"alertname": "ChatLatencyHigh", "instance": fingerprint},
                "annotations": {"summary": f"slow replies on {fingerprint}"},
                "startsAt": _stamp(starts),
                "endsAt": _stamp(starts + timedelta(minutes=10))
                if status == "resolved"
                else "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        )
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{group}"}}',
        "status": "firing" if any(i["status"] == "firing" for i in items) else "resolved",
        "receiver": "vigil",
        "groupLabels": {"alertname": group},
        "commonLabels": {"alertname": "ChatLatencyHigh"},
        "commonAnnotations": {"summary": "Chat replies slower than 3 s"},
        "externalURL": "http://alertmanager.example.org",
        "alerts": items,
    }


# One step of a sender: (group, what, fingerprint); what is fire (a new episode), resolve or
# repeat (the group's unchanged state again).
steps = st.lists(
    st.tuples(
        st.sampled_from(["g1", "g2", "g3"]),
        st.sampled_from(["fire", "resolve", "repeat", "repeat"]),
        st.sampled_from(["x", "y"]),
    ),
    min_size=1,
    max_size=30,
)


def sender_sequence(plan) -> list[tuple[str, dict, datetime]]:
    """The deliveries a sender makes for ``plan``, in its order: (group, payload, episode)."""
    state: dict[str, dict[str, tuple[str, int]]] = {}
    episodes = 0
    sequence = []
    for group, what, fingerprint in plan:
        alerts = state.setdefault(group, {})
        if what == "fire" or not alerts:
            episodes += 1
            alerts[fingerprint] = ("firing", episodes)
        elif what == "resolve" and fingerprint in alerts:
            alerts[fingerprint] = ("resolved", alerts[fingerprint][1])
        latest = max(episode for _, episode in alerts.values())
        sequence.append((group, delivery(group, dict(alerts)), latest))
    return sequence


def arrival_order(sequence, swaps: list[int]) -> list:
    """Out-of-order arrival a receiver cannot tell from the right one only by timestamps:
    deliveries of different groups in any order, and of one group swapped when they belong to
    different episodes (a later episode's start says it came later)."""
    order = list(sequence)
    for i in swaps:
        if i + 1 >= len(order):
            continue
        (group_a, _, episode_a), (group_b, _, episode_b) = order[i], order[i + 1]
        if group_a != group_b or episode_a != episode_b:
            order[i], order[i + 1] = order[i + 1], order[i]
    return order


def database_state() -> list:
    return [
        (
            incident.dedup_key,
            incident.status,
            incident.severity,
            sorted(
                incident.alerts.values_list(
                    "fingerprint", "status", "count", "starts_at", "ends_at"
                )
            ),
            list(incident.timeline.order_by("id").values_list("kind", flat=True)),
        )
        for incident in Incident.objects.order_by("dedup_key", "id")
    ]


def _reset() -> None:
    InboundEvent.objects.all().delete()
    Incident.objects.all().delete()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=steps, swaps=st.lists(st.integers(0, 30), max_size=40), applied_before=st.integers(0, 8)
)
def test_coalesced_batch_ends_in_the_same_state_as_applying_one_by_one(
    service, plan, swaps, applied_before
):
    """Property: whatever the fire/resolve/repeat sequence of several groups, and however it
    arrives (within what timestamps can put right), one coalesced batch leaves the database as
    applying every delivery alone, in the sender's order, does. The first deliveries are
    applied alone in both runs, so the batch meets incidents already open as well."""
    integration, _ = make_integration(service, "alertmanager", suffix=uuid.uuid4().hex[:8])
    sequence = sender_sequence(plan)
    before, rest = sequence[:applied_before], sequence[applied_before:]

    _reset()
    for _, document, _ in sequence:
        normalized = alertmanager.parse(document, integration)
        accept_event(integration=integration, body=b"{}", normalized=normalized, apply_now=True)
    one_by_one = database_state()

    _reset()
    for _, document, _ in before:
        normalized = alertmanager.parse(document, integration)
        accept_event(integration=integration, body=b"{}", normalized=normalized, apply_now=True)
    for _, document, _ in arrival_order(rest, swaps):
        normalized = alertmanager.parse(document, integration)
        accept_event(integration=integration, body=b"{}", normalized=normalized, apply_now=False)
    assert apply_pending_events() == len(rest)
    assert database_state() == one_by_one
    assert not InboundEvent.objects.pending().exists()


def test_repeats_of_a_batch_are_counters_not_timeline_entries(service):
    integration, _ = make_integration(service, "alertmanager")
    firing = alertmanager.parse(delivery("g1", {"x": ("firing", 1)}), integration)
    accept_event(integration=integration, body=b"{}", normalized=firing, apply_now=True)
    incident = Incident.objects.get()
    entries = incident.timeline.count()
    for _ in range(40):
        accept_event(integration=integration, body=b"{}", normalized=firing, apply_now=False)

    assert apply_pending_events() == 40

    assert Alert.objects.get(incident=incident).count == 41
    assert incident.timeline.count() == entries
    assert set(InboundEvent.objects.values_list("incident", flat=True)) == {incident.pk}


def test_a_new_outage_among_repeats_is_claimed_and_applied_first(service, monkeypatch):
    """Claimed first although it arrived behind 60 repeats, and within the claim applied (and
    committed) before the repeats are counted."""
    integration, _ = make_integration(service, "alertmanager")
    old = alertmanager.parse(delivery("old", {"x": ("firing", 1)}), integration)
    accept_event(integration=integration, body=b"{}", normalized=old, apply_now=True)
    for _ in range(30):
        accept_event(integration=integration, body=b"{}", normalized=old, apply_now=False)
    new = alertmanager.parse(delivery("new", {"y": ("firing", 2)}), integration)
    new_event = accept_event(integration=integration, body=b"{}", normalized=new, apply_now=False)
    for _ in range(30):
        accept_event(integration=integration, body=b"{}", normalized=old, apply_now=False)

    calls = []
    apply_groups = coalescing.apply_groups

    def recording(groups, **kwargs):
        calls.append(sorted(key for _, key in (g.key for g in groups)))
        return apply_groups(groups, **kwargs)

    monkeypatch.setattr(coalescing, "apply_groups", recording)

    assert apply_pending_batch(limit=10) == (10, 10)

    new_event.refresh_from_db()
    assert new_event.processed_at is not None
    assert Incident.objects.filter(dedup_key=new["incident_key"]).exists()
    assert calls == [[new["incident_key"]], [old["incident_key"]]]
    assert InboundEvent.objects.pending().count() == 51


def test_a_late_resolution_of_an_earlier_episode_does_not_resolve_the_new_one(service):
    """Delivered after the group fired again (by another worker, a lagging peer): the old
    episode's end is before the alert's current start, so it is only counted as seen."""
    integration, _ = make_integration(service, "alertmanager")
    first = alertmanager.parse(delivery("g1", {"x": ("firing", 1)}), integration)
    again = alertmanager.parse(delivery("g1", {"x": ("firing", 3)}), integration)
    late = alertmanager.parse(delivery("g1", {"x": ("resolved", 1)}), integration)
    for normalized in (first, again, late):
        accept_event(integration=integration, body=b"{}", normalized=normalized, apply_now=True)

    incident = Incident.objects.get()
    assert incident.status == "triggered"
    assert Alert.objects.get(incident=incident).status == "firing"
