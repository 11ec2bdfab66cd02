"""The Grafana dashboard and the Prometheus rules use only metric names /metrics exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bvigil_[a-z0-9_]+\b")


@pytest.fixture
def exposed(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.content.decode()):
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        names.update(sample.name for sample in family.samples)
    return names


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/vigil.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _rule_exprs() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/vigil-rules.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_every_metric_in_the_dashboard_is_exposed(exposed):
    exprs = _dashboard_exprs()
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used - exposed == set()
    for wanted in ("vigil_ingest_backlog", "vigil_ingest_apply_lag_seconds",
                   "vigil_notification_deliveries", "vigil_probe_runs_per_second",
                   "vigil_probe_lag_seconds", "vigil_escalation_sweep_lag_seconds",
                   "vigil_open_incidents", "vigil_ingested_alerts_total"):  # fmt: skip
        assert wanted in used


def test_every_metric_in_the_alerting_rules_is_exposed(exposed):
    rules = yaml.safe_load((ROOT / "deploy/prometheus/vigil-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]
    used = {name for expr in _rule_exprs() for name in NAME.findall(expr)}
    assert used and used - exposed == set()


def test_the_check_would_catch_a_misspelt_name(exposed):
    assert "vigil_ingest_backlogg" not in exposed
    assert "vigil_notification_deliveries_total" not in exposed  # a gauge has no _total
