"""deploy/k8s as kustomize renders it: the core manifests pass the Kubernetes API schemas
(kubernetes-validate, strict), and the custom resources, which no schema here covers, say what
the code needs: KEDA reads the stream and consumer group the workers use, with the Redis
credentials of the same Secret; Prometheus scrapes every component and evaluates alerts.yml."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pytest

from bot.keys import Streams
from bot.settings import Settings
from tests.deploy_files import (
    DASHBOARD,
    DEPLOY,
    METRICS_PORT,
    alert_groups,
    one,
    render,
    setting_env_names,
)

K8S_VERSION = "1.37.0"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"
CUSTOM = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"}
COMPONENTS = ("worker", "slack", "discord")


@pytest.fixture(scope="module", params=[BASE, OVERLAY], ids=["base", "overlay"])
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(OVERLAY)


def _container(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    deployment = one(docs, "Deployment", f"modtriage-{component}")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def test_every_core_manifest_passes_the_kubernetes_schemas(docs: list[dict[str, Any]]) -> None:
    core = [d for d in docs if d["kind"] not in CUSTOM]
    assert {d["kind"] for d in docs} >= CUSTOM | {"Deployment", "Service", "ConfigMap"}
    for doc in core:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_schema_check_rejects_a_misspelt_field(docs: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(one(docs, "Deployment", "modtriage-worker"))
    [container] = broken["spec"]["template"]["spec"]["containers"]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize("component", COMPONENTS)
def test_probes_ask_the_health_endpoints_on_the_metrics_port(
    docs: list[dict[str, Any]], component: str
) -> None:
    container = _container(docs, component)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == METRICS_PORT
    assert _env(container)["MODTRIAGE_METRICS_PORT"]["value"] == str(METRICS_PORT)
    assert _env(container)["MODTRIAGE_METRICS_HOST"]["value"] == "0.0.0.0"  # noqa: S104  # a scraper comes in on the pod IP
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}


@pytest.mark.parametrize("component", COMPONENTS)
def test_containers_run_as_non_root_on_a_read_only_root(
    docs: list[dict[str, Any]], component: str
) -> None:
    pod = one(docs, "Deployment", f"modtriage-{component}")["spec"]["template"]["spec"]
    container = _container(docs, component)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    volumes = {volume["name"] for volume in pod["volumes"]}
    mounted = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert set(mounted.values()) <= volumes
    assert _env(container)["MODTRIAGE_DATA_DIR"]["value"] in mounted  # writable


@pytest.mark.parametrize("component", COMPONENTS)
def test_every_variable_a_container_gets_is_a_setting(
    overlay: list[dict[str, Any]], component: str
) -> None:
    settings = setting_env_names()
    container = _container(overlay, component)
    assert set(_env(container)) - {"HOME"} <= settings
    [source] = container["envFrom"]
    config = one(overlay, "ConfigMap", source["configMapRef"]["name"])  # the generated name
    assert set(config["data"]) <= settings
    assert not any("TOKEN" in name or "SECRET" in name for name in config["data"])


def test_each_adapter_gets_only_its_own_platforms_tokens(docs: list[dict[str, Any]]) -> None:
    slack, discord = _env(_container(docs, "slack")), _env(_container(docs, "discord"))
    worker = _env(_container(docs, "worker"))
    assert "MODTRIAGE_SLACK_BOT_TOKEN" in slack
    assert "MODTRIAGE_DISCORD_TOKEN" not in slack
    assert "MODTRIAGE_DISCORD_TOKEN" in discord
    assert not any(name.startswith("MODTRIAGE_SLACK_") for name in discord)
    assert not any(n.startswith(("MODTRIAGE_SLACK_", "MODTRIAGE_DISCORD_")) for n in worker)
    for component in ("slack", "discord"):
        assert _container(docs, component)["args"] == ["run"]
    assert _container(docs, "worker")["args"] == ["worker"]


def test_keda_reads_the_stream_and_group_the_workers_consume(
    docs: list[dict[str, Any]],
) -> None:
    streams = Streams(namespace=Settings.model_fields["namespace"].default)
    scaled = one(docs, "ScaledObject", "modtriage-worker")["spec"]
    assert one(docs, "Deployment", scaled["scaleTargetRef"]["name"])
    assert "replicas" not in one(docs, "Deployment", "modtriage-worker")["spec"]  # KEDA's
    [trigger] = scaled["triggers"]
    assert trigger["type"] == "redis-streams"
    metadata = trigger["metadata"]
    assert metadata["stream"] == streams.ingest
    assert metadata["consumerGroup"] == streams.group
    assert int(metadata["lagCount"]) > 0
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    # nothing read from an environment variable no container defines (REDIS_ADDRESS was)
    assert not [key for key in metadata if key.endswith("FromEnv")]
    assert not {"address", "host", "password", "enableTLS"} & set(metadata)


def test_keda_authenticates_from_the_secret_that_holds_redis_url(
    docs: list[dict[str, Any]],
) -> None:
    [trigger] = one(docs, "ScaledObject", "modtriage-worker")["spec"]["triggers"]
    auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
    assert set(refs) == {"address", "password", "tls"}
    for component in COMPONENTS:
        url = _env(_container(docs, component))["REDIS_URL"]["valueFrom"]["secretKeyRef"]
        assert {ref["name"] for ref in refs.values()} == {url["name"]}
        assert url["key"] not in {ref["key"] for ref in refs.values()}
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert len(namespaces) == 1  # the TriggerAuthentication sits beside the Secret's users


def test_the_service_monitor_scrapes_every_component(docs: list[dict[str, Any]]) -> None:
    monitor = one(docs, "ServiceMonitor", "modtriage")["spec"]
    wanted = monitor["selector"]["matchLabels"]
    [endpoint] = monitor["endpoints"]
    for component in COMPONENTS:
        service = one(docs, "Service", f"modtriage-{component}")
        assert wanted.items() <= service["metadata"]["labels"].items()
        [port] = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        pods = one(docs, "Deployment", f"modtriage-{component}")["spec"]["template"]
        assert service["spec"]["selector"].items() <= pods["metadata"]["labels"].items()
        assert port["targetPort"] in {p["name"] for p in _container(docs, component)["ports"]}


def test_the_prometheus_rule_carries_the_same_rules_as_alerts_yml(
    docs: list[dict[str, Any]],
) -> None:
    rule = one(docs, "PrometheusRule", "modtriage")
    assert rule["spec"]["groups"] == alert_groups()


def test_the_prometheus_rule_comparison_sees_a_drift(docs: list[dict[str, Any]]) -> None:
    drifted = copy.deepcopy(one(docs, "PrometheusRule", "modtriage")["spec"]["groups"])
    drifted[0]["rules"][0]["expr"] = "max(modtriage_stream_undelivered) > 2000"
    assert drifted != alert_groups()


def test_the_dashboard_config_map_is_the_dashboard_file(docs: list[dict[str, Any]]) -> None:
    config = one(docs, "ConfigMap", "modtriage-dashboard")
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config["data"] == {DASHBOARD.name: DASHBOARD.read_text()}
    assert json.loads(config["data"][DASHBOARD.name])["uid"] == "modtriage"


def test_the_overlay_sets_its_namespace_and_the_prometheus_release(
    overlay: list[dict[str, Any]],
) -> None:
    assert one(overlay, "Namespace", "modtriage")
    assert {d["metadata"].get("namespace") for d in overlay if d["kind"] != "Namespace"} == {
        "modtriage"
    }
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert one(overlay, kind, "modtriage")["metadata"]["labels"]["release"]
    image = _container(overlay, "worker")["image"]
    assert image.startswith("ghcr.io/modtriage/modtriage:")
    assert not image.endswith(":latest")
