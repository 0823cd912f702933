"""deploy/docker-compose.yml: ``docker compose config`` where the compose plugin is installed;
everywhere, a YAML-level check that services start in order on health, that every variable the
bot's containers get is a setting the code reads, that images are pinned, and that each adapter
is handed its own platform's tokens only (its entrypoint run for real, with a stand-in
``modtriage`` that prints what it was given)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy_files import DEPLOY, METRICS_PORT, setting_env_names

COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
BOT_SERVICES = ("worker", "slack", "discord")
#: variables of the deployment itself, not of the bot (compose, Grafana, the image it builds)
DEPLOY_VARIABLES = {
    "COMPOSE_PROFILES",
    "GRAFANA_ADMIN_PASSWORD",
    "DEPLOY_IMAGE",
    "DEPLOY_SLACK_PORT",
}


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def _example_variables() -> set[str]:
    """Every NAME= in .env.example, commented out or not."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def _compose_plugin() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file() -> None:
    for profiles in ("", "slack,discord"):
        out = subprocess.run(
            ["docker", "compose", "-f", str(COMPOSE), "--env-file", str(ENV_EXAMPLE), "config"],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "COMPOSE_PROFILES": profiles},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr


def test_every_dependency_is_a_service_that_reports_its_health() -> None:
    services = _services()
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service["healthcheck"]["test"], name
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on {dependency}"
            assert how == {"condition": "service_healthy"}, name
            assert services[dependency].get("healthcheck"), dependency
    assert "redis" in services["worker"]["depends_on"]


@pytest.mark.parametrize("name", BOT_SERVICES)
def test_the_bot_is_checked_on_healthz_of_its_metrics_port(name: str) -> None:
    service = _services()[name]
    assert service["environment"]["MODTRIAGE_METRICS_PORT"] == str(METRICS_PORT)
    test = service["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]  # the image has no curl
    assert f"http://127.0.0.1:{METRICS_PORT}/healthz" in test[3]
    compile(test[3], "healthcheck", "exec")
    assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_every_variable_the_bot_gets_is_a_setting() -> None:
    settings = setting_env_names()
    for name in BOT_SERVICES:
        assert set(_services()[name]["environment"]) <= settings, name
    assert _example_variables() - DEPLOY_VARIABLES <= settings
    assert "MODTRIAGE_SLACK_BOT_TOKEN" in _example_variables()
    assert "MODTRIAGE_DISCORD_TOKEN" in _example_variables()


def test_every_interpolated_variable_is_in_the_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used
    assert used <= _example_variables()


def test_images_are_pinned_to_a_version() -> None:
    for name, service in _services().items():
        image = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image}"
        assert tag != "latest", f"{name}: {image}"


def test_the_adapters_start_only_under_their_profile() -> None:
    services = _services()
    assert services["slack"]["profiles"] == ["slack"]
    assert services["discord"]["profiles"] == ["discord"]
    assert all("profiles" not in services[n] for n in services if n not in {"slack", "discord"})
    assert "COMPOSE_PROFILES=slack,discord" in ENV_EXAMPLE.read_text()


def _run_entrypoint(
    service: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    """The service's entrypoint, its ``$$`` unescaped as compose does, with ``modtriage`` a
    script that prints its arguments and the tokens it sees."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stand_in = bin_dir / "modtriage"
    stand_in.write_text('#!/bin/sh\necho "args: $*"\nenv | grep -E "TOKEN|SIGNING" | sort\n')
    stand_in.chmod(0o755)
    argv = [part.replace("$$", "$") for part in _services()[service]["entrypoint"]]
    path = f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env={"PATH": path, **env})  # fmt: skip


BOTH = {
    "MODTRIAGE_SLACK_BOT_TOKEN": "xoxb-1",
    "MODTRIAGE_SLACK_APP_TOKEN": "xapp-1",
    "MODTRIAGE_DISCORD_TOKEN": "discord-1",
}


@pytest.mark.skipif(shutil.which("sh") is None or shutil.which("env") is None, reason="no sh")
def test_each_adapter_is_handed_only_its_platforms_tokens(tmp_path: Path) -> None:
    slack = _run_entrypoint("slack", BOTH, tmp_path)
    assert slack.returncode == 0, slack.stderr
    assert slack.stdout.splitlines() == [
        "args: run", "MODTRIAGE_SLACK_APP_TOKEN=xapp-1", "MODTRIAGE_SLACK_BOT_TOKEN=xoxb-1",
    ]  # fmt: skip
    discord = _run_entrypoint("discord", BOTH, tmp_path)
    assert discord.returncode == 0, discord.stderr
    assert discord.stdout.splitlines() == ["args: run", "MODTRIAGE_DISCORD_TOKEN=discord-1"]


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
@pytest.mark.parametrize(("service", "token"), [
    ("slack", "MODTRIAGE_SLACK_BOT_TOKEN"), ("discord", "MODTRIAGE_DISCORD_TOKEN"),
])  # fmt: skip
def test_an_adapter_without_its_token_refuses_to_start(
    service: str, token: str, tmp_path: Path
) -> None:
    others = {k: v for k, v in BOTH.items() if k != token}
    run = _run_entrypoint(service, others, tmp_path)
    assert run.returncode == 2
    assert run.stdout == ""  # modtriage run was never started (it would replay the example)
    assert f"setting {token}: unset" in run.stderr


def test_grafana_loads_the_dashboard_compose_mounts() -> None:
    grafana = _services()["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "modtriage.yml").read_text()
    )
    [source] = provider["providers"]
    assert mounts["./grafana/dashboards"] == source["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == source["options"]["path"] + "/modtriage.json"
    assert (DEPLOY / "grafana" / "dashboards" / "modtriage.json").is_file()


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = _services()["redis"]
    conf = (DEPLOY / "redis" / "redis.conf").read_text()
    assert re.search(r"^appendonly yes$", conf, re.MULTILINE)
    assert re.search(r"^maxmemory-policy noeviction$", conf, re.MULTILINE)
    assert "redis-data:/data" in redis["volumes"]
    assert redis["command"][-1] in [v.split(":")[1] for v in redis["volumes"]]
