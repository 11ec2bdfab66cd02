"""Every figure of the report against values computed by hand from tests/analytics/dataset.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics import metrics
from tests.analytics.dataset import TODAY, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    return build()


def test_timings_overall_median_and_p90_by_hand(data):
    row = metrics.timings(data.scope())["overall"]
    # Incidents 1, 2, 3, 4, 5, 7 triggered in range (6 crossed the start, 8 is a drill).
    assert (row.incidents, row.open, row.never_acknowledged, row.reopened) == (6, 1, 1, 1)
    # MTTD: 120 (alert 09:58), 60 (probe 07:59), 1800 (heartbeat due 23:30) -> [60, 120, 1800].
    assert row.median["ttd"] == pytest.approx(120)
    assert row.p90["ttd"] == pytest.approx(120 + (1800 - 120) * 0.8)
    # MTTA: 300, 600, 900, 360 (from the reopen), 600; #3 never acknowledged.
    assert row.median["tta"] == pytest.approx(600)
    assert row.p90["tta"] == pytest.approx(600 + 300 * 0.6)
    # MTTM: 1200, 7200 (impact 11:30 -> resolved 13:30), 1800, 9000, 3600; #4 not mitigated.
    assert row.median["ttm"] == pytest.approx(3600)
    assert row.p90["ttm"] == pytest.approx(7200 + 1800 * 0.6)
    # MTTR: 2400, 7200, 1800, 10800 (reopened: first impact to final resolution), 3600.
    assert row.median["ttr"] == pytest.approx(3600)
    assert row.p90["ttr"] == pytest.approx(7200 + 3600 * 0.6)


def test_timings_per_severity_and_service(data):
    result = metrics.timings(data.scope())
    by_severity = {row.key: row for row in result["by_severity"]}
    assert sorted(by_severity) == [2, 3, 4, 5]
    assert by_severity[4].incidents == 2
    assert by_severity[4].median["ttr"] == pytest.approx((1800 + 3600) / 2)
    assert by_severity[2].median["ttr"] is None  # still open
    by_service = {row.label: row for row in result["by_service"]}
    assert by_service["A"].incidents == 3
    assert by_service["A"].median["tta"] == pytest.approx(360)
    assert by_service["B"].median["ttd"] == pytest.approx((60 + 1800) / 2)


def test_drills_only_counted_when_asked(data):
    row = metrics.timings(data.scope(include_drills=True))["overall"]
    assert row.incidents == 7
    assert row.median["ttr"] == pytest.approx(3600)  # 1800 2400 3600 3600 7200 10800


def test_severity_and_service_filters(data):
    row = metrics.timings(data.scope(severities=(5,)))["overall"]
    assert row.incidents == 1 and row.median["ttr"] == pytest.approx(2400)
    row = metrics.timings(data.scope(service=data.b))["overall"]
    assert row.incidents == 3 and row.open == 1


def test_empty_range_has_no_figures(data):
    from datetime import UTC, datetime

    scope = data.scope(start=datetime(2025, 6, 1, tzinfo=UTC), end=datetime(2025, 7, 1, tzinfo=UTC))
    row = metrics.timings(scope)["overall"]
    assert row.incidents == 0 and row.median["ttr"] is None


def test_downtime_availability_and_cost_clip_to_the_range(data):
    result = metrics.downtime(data.scope())
    rows = {row.name: row for row in result["services"]}
    # A: 2400 + 7200 + 10800 + 3600 (incident 6 from 00:00) = 24000 s.
    assert rows["A"].downtime_seconds == pytest.approx(24000)
    assert rows["A"].weighted_seconds == pytest.approx(2400 + 3600 + 5400 + 3600)
    assert rows["A"].availability == pytest.approx(1 - 15000 / 7_776_000)
    assert rows["A"].cost == Decimal("4000.00")
    # B: 1800 + 2,678,400 (open since 03-01 until the range end) + 1800 (to 04-01 00:00).
    assert rows["B"].downtime_seconds == pytest.approx(2_682_000)
    assert rows["B"].weighted_seconds == pytest.approx(1350 + 669_600 + 1350)
    assert rows["B"].availability == pytest.approx(1 - 672_300 / 7_776_000)
    assert rows["B"].cost == Decimal("894000.00")
    assert result["cost"] == Decimal("898000.00")


def test_open_incident_counts_until_now_inside_the_range(data):
    from datetime import UTC, datetime

    now = datetime(2026, 3, 2, tzinfo=UTC)  # one day after incident 4 opened
    scope = data.scope(service=data.b, start=datetime(2026, 3, 1, tzinfo=UTC), now=now)
    rows = {row.name: row for row in metrics.downtime(scope)["services"]}
    assert rows["B"].downtime_seconds == pytest.approx(86400)
    assert rows["B"].availability == pytest.approx(1 - 86400 * 0.25 / 86400)


def test_rto_and_rpo_compliance(data):
    result = metrics.compliance(data.scope())
    assert result["rto"] == {"met": 2, "missed": 3, "unknown": 1, "rate": pytest.approx(0.4)}
    assert result["rpo"] == {"met": 1, "missed": 1, "unknown": 4, "rate": pytest.approx(0.5)}


def test_counts_by_severity_source_and_factor(data):
    result = metrics.counts(data.scope())
    assert {r["severity"]: r["incidents"] for r in result["by_severity"]} == {
        5: 1, 4: 2, 3: 2, 2: 1, 1: 0,
    }  # fmt: skip
    assert {r["source"]: r["incidents"] for r in result["by_source"]} == {
        "manual": 3, "integration": 1, "probe": 2, "system": 0,
    }  # fmt: skip
    assert {r["category"]: r["incidents"] for r in result["by_category"]} == {
        "technical": 1, "external": 0, "internal": 2, "operational": 0,
    }  # fmt: skip
    by_factor = {r["factor"]: r["incidents"] for r in result["by_factor"]}
    assert len(by_factor) == 16
    assert by_factor["configuration_error"] == 2 and by_factor["provider_outage"] == 1
    assert by_factor["ddos"] == 0  # the drill's and the other team's


def test_escalation_depth(data):
    result = metrics.escalation_depth(data.scope())
    assert {r["level"]: r["incidents"] for r in result["levels"]} == {0: 0, 1: 0, 2: 1, 3: 1, 4: 1}
    assert (result["reached_l3"], result["reached_l4"]) == (2, 1)
    assert result["l3_rate"] == pytest.approx(2 / 3)


def test_action_items_open_and_overdue(data):
    result = metrics.action_items(data.scope(), today=TODAY)
    assert (result["open"], result["overdue"]) == (3, 1)
    assert [item.title for item in result["overdue_items"]] == ["overdue"]
    assert metrics.action_items(data.scope(include_drills=True), today=TODAY)["overdue"] == 2


def test_oncall_load_per_person_in_their_time_zone(data):
    rows = {row["name"]: row for row in metrics.oncall_load(data.scope())}
    # alice (Berlin): incidents 1 (two messages), 2, 3 (Sunday: out of hours).
    assert rows["alice"] == {
        "user_id": data.alice.pk, "name": "alice", "incidents": 3, "messages": 4,
        "out_of_hours": 1,
    }  # fmt: skip
    # bob (New York): incident 2 at 09:00 local, incident 7 at 19:31 local; the inform and
    # the drill page are not counted.
    assert (rows["bob"]["incidents"], rows["bob"]["out_of_hours"]) == (2, 1)


def test_another_teams_data_is_never_counted(data):
    scope = data.scope(team=data.other_team)
    assert metrics.timings(scope)["overall"].incidents == 1
    assert [r.name for r in metrics.downtime(scope)["services"]] == ["Elsewhere"]
    assert metrics.oncall_load(scope)[0]["incidents"] == 1


def test_report_query_count_does_not_grow_with_incidents(data, django_assert_max_num_queries):
    from tests.analytics.dataset import at
    from tests.factories import IncidentFactory

    scope = data.scope()
    with django_assert_max_num_queries(20) as captured:
        metrics.report(scope)
    baseline = len(captured.captured_queries)
    for n in range(30):
        IncidentFactory(service=data.a, triggered_at=at(2, 20, n % 24), severity=1 + n % 5)
    with django_assert_max_num_queries(baseline):
        metrics.report(scope)


def test_first_signal_of_one_incident(data):
    from tests.analytics.dataset import at

    assert metrics.first_signal_at(data.incidents[3]) == at(2, 15, 7, 59)
    assert metrics.first_signal_at(data.incidents[2]) is None


def _all_timings(scope) -> list:
    result = metrics.timings(scope)
    rows = [result["overall"], *result["by_severity"], *result["by_service"]]
    return [(r.key, r.incidents, r.median, r.p90) for r in rows]


def test_stored_signals_give_the_same_figures_as_the_live_lookups(data):
    from analytics.models import IncidentSignal
    from analytics.signals import remember

    live = _all_timings(data.scope())
    written = remember()
    assert written == IncidentSignal.objects.count() > 0
    assert remember() == 0  # nothing left to store
    stored = dict(IncidentSignal.objects.values_list("incident_id", "first_signal_epoch"))
    assert stored[data.incidents[3].pk] == metrics.first_signal_at(data.incidents[3]).timestamp()
    assert _all_timings(data.scope()) == live


def test_a_stored_signal_of_an_earlier_resolution_is_not_used(data):
    from datetime import timedelta

    from analytics.models import IncidentSignal
    from analytics.signals import remember

    live = _all_timings(data.scope())
    remember()
    # A stored value that no longer matches the incident's resolution (it was reopened and
    # resolved again since) is ignored: the report computes that incident live.
    resolved = [
        i for i in data.incidents.values() if i.resolved_at is not None and i.source != "manual"
    ]
    row = IncidentSignal.objects.get(incident=resolved[0])
    row.first_signal_epoch = 0.0
    row.resolved_at = row.resolved_at - timedelta(minutes=5)
    row.save()
    assert _all_timings(data.scope()) == live
    assert remember() == 1  # and the next pass stores it again for the current resolution
    row.refresh_from_db()
    assert row.resolved_at == resolved[0].resolved_at


def test_resolving_an_incident_stores_its_first_signal(data):
    from analytics.models import IncidentSignal
    from incidents import events

    incident = next(i for i in data.incidents.values() if i.resolved_at is not None)
    events.incident_resolved.send(sender=None, incident_id=incident.pk)
    row = IncidentSignal.objects.get(incident=incident)
    assert row.resolved_at == incident.resolved_at


def test_the_report_computes_compliance_with_the_timings_the_same_way(data):
    scope = data.scope()
    report = metrics.report(scope)
    assert report["compliance"] == metrics.compliance(scope)
    assert report["timings"]["overall"].incidents == metrics.timings(scope)["overall"].incidents
