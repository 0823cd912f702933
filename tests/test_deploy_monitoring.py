"""The dashboard and the alert rules in deploy/ read metrics the code exports, so no panel stays
empty and no rule is silently never evaluated (``absent()`` would fire forever, a threshold
would never fire); the rules are well formed, since promtool is not at hand."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.deploy_files import (
    DASHBOARD,
    DEPLOY,
    alert_groups,
    exported_metric_names,
    unknown_metrics,
)

_DURATION = re.compile(r"^\d+[smhdwy]$")


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def _alert_rules() -> list[dict[str, Any]]:
    return [rule for group in alert_groups() for rule in group["rules"]]


def test_the_extraction_reports_a_metric_nobody_exports() -> None:
    exported = exported_metric_names()
    assert "modtriage_ingest_to_decision_seconds_bucket" in exported
    assert "modtriage_dead_letters_total" in exported  # labelled, never incremented here
    wrong = ["sum(rate(modtriage_messages_totl[5m])) / max(modtriage_stream_undelivered)"]
    assert unknown_metrics(wrong, exported) == {"modtriage_messages_totl"}


def test_every_metric_the_dashboard_reads_is_exported() -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) >= 14
    assert unknown_metrics(exprs, exported_metric_names()) == set()


def test_the_dashboard_has_the_panels_an_operator_needs() -> None:
    read = " ".join(_dashboard_exprs())
    for metric in (
        "modtriage_messages_total", "modtriage_decisions_total", "modtriage_actions_total",
        "modtriage_ingest_to_decision_seconds_bucket", "modtriage_stream_undelivered",
        "modtriage_stream_pending", "modtriage_dead_letters_total",
        "modtriage_review_queue_oldest_seconds", "modtriage_frontier_spent",
        "modtriage_frontier_budget", "modtriage_stage_seconds_bucket",
    ):  # fmt: skip
        assert metric in read, metric
    assert "histogram_quantile(0.5," in read
    assert "histogram_quantile(0.99," in read


def test_the_dashboard_asks_the_provisioned_datasource() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provisioned = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    [source] = provisioned["datasources"]
    [variable] = dashboard["templating"]["list"]
    assert variable["type"] == "datasource"
    assert variable["current"]["value"] == source["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${" + variable["name"] + "}", panel["title"]
        assert panel["targets"], panel["title"]


def test_every_metric_an_alert_reads_is_exported() -> None:
    exprs = [rule["expr"] for rule in _alert_rules()]
    assert unknown_metrics(exprs, exported_metric_names()) == set()


@pytest.mark.parametrize("rule", _alert_rules(), ids=lambda r: str(r.get("alert")))
def test_each_alert_rule_is_well_formed(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert re.fullmatch(r"Modtriage[A-Za-z]+", rule["alert"])
    expr = rule["expr"]
    assert expr.count("(") == expr.count(")")
    assert expr.count("[") == expr.count("]")
    assert expr.count("{") == expr.count("}")
    assert "for" not in rule or _DURATION.match(rule["for"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]


def test_the_alerts_cover_lag_dead_letters_budget_and_workers_down() -> None:
    by_name = {rule["alert"]: rule["expr"] for rule in _alert_rules()}
    assert "modtriage_stream_undelivered" in by_name["ModtriageIngestBacklog"]
    assert "modtriage_dead_letters_total" in by_name["ModtriageDeadLetters"]
    assert "modtriage_frontier_budget" in by_name["ModtriageFrontierBudgetSpent"]
    assert by_name["ModtriageNoWorker"].startswith("absent(")
    assert 'up{job=~"modtriage-.*"} == 0' in by_name["ModtriageTargetDown"]
    names = [group["name"] for group in alert_groups()]
    assert len(names) == len(set(names))


def test_prometheus_loads_the_alert_rules_compose_mounts() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    mounts = dict(volume.split(":")[:2] for volume in compose["services"]["prometheus"]["volumes"])
    assert mounts["./prometheus/alerts.yml"] in config["rule_files"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service in ("worker", "slack", "discord"):
        [sd] = jobs[f"modtriage-{service}"]["dns_sd_configs"]
        assert sd["names"] == [service]
        assert service in compose["services"]
        assert sd["port"] == int(
            compose["services"][service]["environment"]["MODTRIAGE_METRICS_PORT"]
        )
