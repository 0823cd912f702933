"""The alert rules shipped in deploy/ name metrics the bot exports, so none of them is silently
never evaluated (``absent()`` would fire forever, a threshold would never fire)."""

from __future__ import annotations

import re

import yaml
from prometheus_client import CollectorRegistry

from bot.metrics import Metrics
from tests.conftest import ROOT


def test_every_metric_an_alert_reads_is_one_the_workers_export() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    named = {name for expr in exprs for name in re.findall(r"modtriage_\w+", expr)}
    registry = CollectorRegistry()
    Metrics(registry=registry)
    families = list(registry.collect())
    # a labelled gauge has no sample until a label is first set: its family name counts
    exported = {sample.name for family in families for sample in family.samples}
    exported |= {family.name for family in families if family.type == "gauge"}
    assert named, "the rules read modtriage metrics"
    assert named <= exported
