"""The report page, the ROI page, CSV exports and the API: shape, scoping and bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import Role
from tests.analytics.dataset import build
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

RANGE = {"start": "2026-01-01", "end": "2026-03-31"}


@pytest.fixture
def data():
    with freeze_time("2026-04-15 12:00:00"):
        yield build()


@pytest.fixture
def frozen():
    with freeze_time("2026-04-15 12:00:00"):
        yield


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_report_page_shows_the_figures(client, data, frozen):
    client.force_login(data.alice)
    response = client.get(reverse("analytics:report"), {"team": data.team.pk, **RANGE})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg" in body and 'role="img"' in body
    assert "1 h 00 min" in body  # MTTR median 3600 s
    assert "898,000.00 €" in body  # cost of downtime
    assert "incident 9" not in body and "Elsewhere" not in body


def test_report_fragment_for_htmx(client, data, frozen):
    client.force_login(data.alice)
    response = client.get(
        reverse("analytics:report"), {"team": data.team.pk, **RANGE}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="report">') and "<html" not in body


def test_another_teams_report_is_404(client, data, frozen):
    outsider = MembershipFactory(team=data.other_team, role=Role.ADMIN).user
    client.force_login(outsider)
    assert client.get(reverse("analytics:report"), {"team": data.team.pk}).status_code == 404
    response = client.get(
        reverse("analytics:report"), {"team": data.other_team.pk, "service": data.a.slug}
    )
    assert response.status_code == 404
    export = reverse("analytics:export", args=["timings"])
    assert client.get(export, {"team": data.team.pk}).status_code == 404


def test_anonymous_goes_to_login(client, db):
    response = client.get(reverse("analytics:report"))
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
        ({"start": "2026-03-01"}, "end"),
        ({"end": "2026-03-01"}, "start"),
        ({"start": "0001-01-01", "end": "2026-02-01"}, "start"),
        ({"start": "2026-01-01", "end": "9999-12-31"}, "end"),
        ({"start": "yesterday", "end": "2026-02-01"}, "start"),
        ({"severity": "7"}, "severity"),
        ({"drills": "maybe"}, "drills"),
    ],
)
def test_bad_ranges_are_400_naming_the_field(client, data, frozen, params, field):
    client.force_login(data.alice)
    response = client.get(reverse("analytics:report"), {"team": data.team.pk, **params})
    assert response.status_code == 400
    assert field in response.content.decode()
    api = client.get("/api/v1/analytics/report/", {"team": data.team.pk, **params})
    assert api.status_code == 400
    assert field in api.json()["error"]["fields"]


def test_range_before_retention_is_clamped_and_says_so(client, data, frozen, settings):
    settings.ANALYTICS_RETENTION_DAYS = 30
    client.force_login(data.alice)
    api = client.get("/api/v1/analytics/report/", {"team": data.team.pk, **RANGE})
    assert api.status_code == 200
    scope = api.json()["scope"]
    assert scope["start"].startswith("2026-03-16")
    assert "retention" in scope["notice"]
    page = client.get(reverse("analytics:report"), {"team": data.team.pk, **RANGE})
    assert "retention" in page.content.decode()


def test_csv_exports_carry_the_raw_figures(client, data, frozen):
    client.force_login(data.alice)
    query = {"team": data.team.pk, **RANGE}
    timings = _csv(client.get(reverse("analytics:export", args=["timings"]), query))
    overall = timings[0]
    assert overall["group"] == "all" and overall["incidents"] == "6"
    assert float(overall["ttr_median"]) == 3600 and float(overall["ttr_p90"]) == 9360
    assert float(overall["ttd_p90"]) == pytest.approx(1464)
    availability = {r["service"]: r for r in _csv(
        client.get(reverse("analytics:export", args=["availability"]), query))}  # fmt: skip
    assert availability["B"]["cost"] == "894000.00"
    assert float(availability["A"]["availability"]) == pytest.approx(1 - 15000 / 7_776_000)
    oncall = {r["person"]: r for r in _csv(
        client.get(reverse("analytics:export", args=["oncall"]), query))}  # fmt: skip
    assert oncall["alice"] == {"person": "alice", "incidents": "3", "messages": "4",
                               "out_of_hours": "1"}  # fmt: skip
    response = client.get(reverse("analytics:export", args=["compliance"]), query)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert _csv(response)[0] == {"target": "RTO", "met": "2", "missed": "3", "unknown": "1",
                                 "rate": "0.4"}  # fmt: skip
    for name in ("severity", "source", "categories", "factors", "escalation", "action_items",
                 "quarters"):  # fmt: skip
        assert client.get(reverse("analytics:export", args=[name]), query).status_code == 200
    assert client.get(reverse("analytics:export", args=["nope"]), query).status_code == 404


def test_csv_quotes_text_a_spreadsheet_would_run(client, data, frozen):
    data.a.name = "=HYPERLINK(1)"
    data.a.save(update_fields=["name"])
    client.force_login(data.alice)
    rows = _csv(client.get(reverse("analytics:export", args=["availability"]),
                           {"team": data.team.pk, **RANGE}))  # fmt: skip
    assert rows[0]["service"] == "'=HYPERLINK(1)"


def test_api_report_shape_and_figures(client, data, frozen):
    client.force_login(data.alice)
    response = client.get("/api/v1/analytics/report/", {"team": data.team.pk, **RANGE})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"scope", "timings", "downtime", "compliance", "counts", "escalation",
                         "action_items", "oncall"}  # fmt: skip
    overall = body["timings"]["overall"]
    assert overall["incidents"] == 6
    assert overall["median"]["ttr"] == pytest.approx(3600)
    assert overall["p90"]["tta"] == pytest.approx(780)
    assert body["downtime"]["cost"] == "898000.00"
    assert body["compliance"]["rto"]["rate"] == pytest.approx(0.4)
    assert body["action_items"]["overdue"] == 1
    assert body["action_items"]["overdue_items"][0]["title"] == "overdue"
    assert {s["name"] for s in body["downtime"]["services"]} == {"A", "B"}


def test_api_other_team_is_404_and_anonymous_401(client, data, frozen):
    outsider = MembershipFactory(team=data.other_team, role=Role.ADMIN).user
    client.force_login(outsider)
    response = client.get("/api/v1/analytics/report/", {"team": data.team.pk})
    assert response.status_code == 404
    client.logout()
    assert client.get("/api/v1/analytics/report/").status_code in (401, 403)


def test_roi_quarter_over_quarter(client, data, frozen):
    client.force_login(data.alice)
    # 2026 Q1 (the last complete quarter) against 2025 Q4 (only incident 6: 23:00-24:00).
    response = client.get("/api/v1/analytics/quarters/", {"team": data.team.pk, "budget": "100000"})
    assert response.status_code == 200
    body = response.json()
    assert body["quarter"]["quarter"] == "2026Q1" and body["previous"]["quarter"] == "2025Q4"
    assert body["previous"]["downtime_seconds"] == pytest.approx(3600)
    assert body["previous"]["cost"] == "600.00"
    # Q1: A 24000 (incident 6's hour after midnight included) + B 2,682,000.
    assert body["quarter"]["downtime_seconds"] == pytest.approx(24000 + 2_682_000)
    roi = body["roi"]
    assert roi["downtime_change"] == pytest.approx((2_706_000 - 3600) / 3600 * 100)
    assert roi["resilience_low"] == "10000.00" and roi["resilience_high"] == "15000.00"
    assert [q["quarter"] for q in body["history"]] == ["2025Q3", "2025Q4", "2026Q1", "2026Q2"]
    page = client.get(reverse("analytics:roi"), {"team": data.team.pk, "budget": "100000"})
    assert page.status_code == 200 and "10,000.00 €" in page.content.decode()


def test_roi_bad_budget_and_quarter_are_400(client, data, frozen):
    client.force_login(data.alice)
    for params, field in (({"budget": "-5"}, "budget"), ({"budget": "NaN"}, "budget"),
                          ({"quarter": "2026Q7"}, "quarter")):  # fmt: skip
        response = client.get("/api/v1/analytics/quarters/", {"team": data.team.pk, **params})
        assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_roi_counts_a_falling_cost_as_a_saving(data):
    from analytics import quarters
    from analytics.scope import Scope

    scope = Scope(team=data.team, start=datetime(2026, 1, 1, tzinfo=UTC),
                  end=datetime(2026, 4, 1, tzinfo=UTC), now=datetime(2026, 4, 15, tzinfo=UTC))  # fmt: skip
    result = quarters.quarter_over_quarter(scope, quarter=quarters.Quarter(2026, 2))
    # Q2 so far (to 04-15 00:00): incident 7's last 30 minutes and 14 days of the still open
    # incident 4, both on B (1,200 EUR/h): 600 + 403,200. Q1: 4,000 (A) + 894,000 (B).
    assert str(result["quarter"].cost) == "403800.00"
    assert str(result["previous"].cost) == "898000.00"
    assert result["roi"]["cost_change"] == pytest.approx((403_800 - 898_000) / 898_000 * 100)
    assert str(result["roi"]["cost_saved"]) == "494200.00"


def test_report_page_query_count_is_constant(client, data, frozen, django_assert_max_num_queries):
    from tests.analytics.dataset import at
    from tests.factories import IncidentFactory

    client.force_login(data.alice)
    url = reverse("analytics:report")
    client.get(url, {"team": data.team.pk, **RANGE})
    with django_assert_max_num_queries(40) as captured:
        client.get(url, {"team": data.team.pk, **RANGE})
    before = len(captured.captured_queries)
    for n in range(25):
        IncidentFactory(service=data.b, triggered_at=at(3, 5, n % 24), severity=1 + n % 5)
    with django_assert_max_num_queries(before):
        client.get(url, {"team": data.team.pk, **RANGE})
