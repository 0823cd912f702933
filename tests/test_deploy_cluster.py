"""deploy/k8s/overlays/cluster, as kustomize renders it: workers on a Redis Cluster with the
streams in partitions, scaled by KEDA on the summed lag of every partition's ingest stream,
with the patch `modtriage partitions keda` writes."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest

from bot.keys import Streams
from bot.settings import Settings
from tests.deploy_files import DEPLOY, one, render

CLUSTER = DEPLOY / "k8s" / "overlays" / "cluster"
PATCH = CLUSTER / "scaledobject-partitions.yaml"


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render(CLUSTER)


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    [config] = [
        d for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("modtriage-config")
    ]  # fmt: skip
    return dict(config["data"])


def test_keda_adds_up_the_lag_of_every_partition_the_workers_read(
    docs: list[dict[str, Any]],
) -> None:
    config = _config(docs)
    assert config["MODTRIAGE_REDIS_CLUSTER"] == "true"
    streams = Streams(
        namespace=Settings.model_fields["namespace"].default,
        partitions=int(config["MODTRIAGE_PARTITIONS"]),
    )
    spec = one(docs, "ScaledObject", "modtriage-worker")["spec"]
    triggers = spec["triggers"]
    assert {t["type"] for t in triggers} == {"redis-cluster-streams"}
    assert sorted(t["metadata"]["stream"] for t in triggers) == sorted(
        p.ingest for p in streams.every_partition()
    )
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {streams.group}
    names = [t["name"] for t in triggers]
    assert len(set(names)) == len(names) == streams.partitions
    modifier = spec["advanced"]["scalingModifiers"]
    assert sorted(modifier["formula"].split(" + ")) == sorted(names)  # the sum of them all
    assert int(modifier["target"]) > 0
    for trigger in triggers:  # one TriggerAuthentication, from the Secret that holds redis-url
        auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
        refs = {r["parameter"]: r for r in auth["spec"]["secretTargetRef"]}
        assert set(refs) == {"addresses", "password", "tls"}
        assert {r["name"] for r in refs.values()} == {"modtriage"}


def test_the_overlays_core_manifests_pass_the_kubernetes_schemas(
    docs: list[dict[str, Any]],
) -> None:
    custom = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}
    for doc in docs:
        if doc["kind"] not in custom:
            kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_the_committed_patch_is_what_modtriage_partitions_keda_writes() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
    written = subprocess.run(
        [sys.executable, "-m", "bot", "partitions", "keda"],
        env=env | {"MODTRIAGE_PARTITIONS": "8"},
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert written == PATCH.read_text()
