"""The command line as an operator meets it: real processes, embedded Redis, exit codes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def modtriage(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
    base.pop("REDIS_URL", None)
    base |= {"MODTRIAGE_DATA_DIR": str(tmp_path / "data"), "MODTRIAGE_CLASSIFIER": "rules",
             "COLUMNS": "200"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=base | (env or {}), cwd=tmp_path,
        input=stdin, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def test_run_replays_the_sample_conversation_on_embedded_redis(tmp_path: Path) -> None:
    result = modtriage("run", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "classifier rules-only" in out
    assert "embedded Redis" in out
    assert "51 messages decided." in out
    assert "@troll42: 'shut up you f4gg0t, nobody cares about dark mode'" in out
    assert "ACT hate · rules: hate (deny:faggot on 'f4gg0t'" in out
    assert "↳ delete message, warn @troll42 privately, open case #3 (act)" in out
    assert "time out @troll42 for 1 day" in out  # hate is 3 strike points: the ladder's first rung
    assert "ACT spam · rules: spam (link:scam on 'free nitro'" in out
    assert "ACT spam · rules: spam (flood on '7 messages in 10s'" in out
    assert "ACT spam · rules: spam (duplicates on '4 messages in 60s'" in out
    assert "· FAQ python_versions (" in out  # answered from the approved text
    assert "reply in thread: 'We support the Python versions" in out
    assert "@lena: 'can someone give me assistance with the plugin API?" in out
    # Run twice: the second run does not trip over the first one's keys.
    again = modtriage("run", tmp_path=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "51 messages decided." in again.stdout
    # The cases stay for the operator commands.
    shown = modtriage("case", "show", "3", tmp_path=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "troll42" in shown.stdout
    assert "hate" in shown.stdout


def test_run_stdin_moderates_typed_lines(tmp_path: Path) -> None:
    result = modtriage(
        "run", "--stdin", tmp_path=tmp_path, stdin="hi all\njoin discord.gg/spam123 now\n"
    )
    assert result.returncode == 0, result.stderr
    assert "@you: 'hi all'\n   → ALLOW" in result.stdout
    assert "ACT spam · rules: spam (link:invite on 'discord.gg/spam123'" in result.stdout
    assert "2 messages decided." in result.stdout


def test_classify_explains_one_decision(tmp_path: Path) -> None:
    result = modtriage("classify", "you f4gg0t", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "route: act  category: hate" in result.stdout
    assert "why: hate (deny:faggot on 'f4gg0t', score 1.00)" in result.stdout
    assert "actions: delete, warn, open_case" in result.stdout


def test_bench_prints_the_keys_tools_parse(tmp_path: Path) -> None:
    result = modtriage("bench", "--json", "--messages", "60", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["classifier"] == "rules-only"
    assert figures["pipeline_msgs_per_s"] > 0
    assert 0 <= figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]


def test_a_bad_policy_stops_start_up_with_file_key_and_fix(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text(
        "categories:\n  spam:\n    description: unsolicited promotion\n    sevrity: low\n"
    )
    result = modtriage("run", tmp_path=tmp_path, env={"MODTRIAGE_POLICY": str(policy)})
    assert result.returncode == 2
    assert f"{policy}: categories.spam.sevrity: Extra inputs are not permitted" in result.stderr
    assert "remove this key or correct its spelling" in result.stderr


def test_unreachable_redis_at_start_is_a_clear_error(tmp_path: Path) -> None:
    result = modtriage("run", tmp_path=tmp_path, env={"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 3
    assert "Redis at redis://127.0.0.1:1/0 is unavailable" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_redis_password_is_never_printed(tmp_path: Path) -> None:
    url = "redis://modtriage:hunter2@127.0.0.1:1/0"
    result = modtriage("run", tmp_path=tmp_path, env={"REDIS_URL": url})
    assert result.returncode == 3
    assert "Redis at redis://modtriage:***@127.0.0.1:1/0 is unavailable" in result.stderr
    assert "redis://modtriage:***@127.0.0.1:1/0" in result.stdout  # the start-up banner
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODTRIAGE_BATCH_SIZE", "0", "MODTRIAGE_BATCH_SIZE: Input should be greater than"),
        ("MODTRIAGE_CLASSIFIER", "gpt", "MODTRIAGE_CLASSIFIER: Input should be"),
    ],
)
def test_bad_settings_name_the_variable(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = modtriage("classify", "hello", tmp_path=tmp_path, env={name: value})
    assert result.returncode == 2
    assert message in result.stderr


def test_make_run_default_uses_the_embedded_model(tmp_path: Path) -> None:
    result = modtriage("run", tmp_path=tmp_path, env={"MODTRIAGE_CLASSIFIER": "embedded"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "classifier embedded:modtriage-minilm-l6-moderation-int8@" in out
    assert "51 messages decided." in out
    # The banner names the model once; each verdict line fits a 100-column terminal.
    assert out.count("modtriage-minilm-l6-moderation") == 1
    assert [line for line in out.splitlines()[2:] if len(line) > 100] == []
    # Self-harm is a support case: resources in the thread and a person, never a punishment.
    support = out[out.index("@ana2: \"I don't want to be alive") :].split("\n")[:4]
    assert "ACT self_harm · classify" in support[1]
    assert "reply in thread: \"It sounds like you're going through a lot" in "\n".join(support)
    assert "delete" not in "\n".join(support)
    # The model alone never removes an ordinary question, whatever it scores.
    ordinary = out[out.index("@lena: 'can someone give me assistance") :].split("\n")[1]
    assert "→ ACT" not in ordinary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _scrape(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=2) as response:
        return str(response.read().decode())


@pytest.mark.parametrize(
    ("host", "from_elsewhere"),
    [(None, False), ("0.0.0.0", True)],  # noqa: S104  # the setting under test
)
def test_worker_metrics_listen_on_loopback_unless_told_otherwise(
    tmp_path: Path, host: str | None, from_elsewhere: bool
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
    env.pop("REDIS_URL", None)
    env |= {"MODTRIAGE_DATA_DIR": str(tmp_path / "data"), "MODTRIAGE_CLASSIFIER": "rules",
            "MODTRIAGE_METRICS_PORT": str(port)}  # fmt: skip
    if host is not None:
        env["MODTRIAGE_METRICS_HOST"] = host
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--processes", "1"], env=env, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert "# TYPE" in _scrape("127.0.0.1", port)
                break
            except OSError:
                assert worker.poll() is None, worker.communicate()[1]
                assert time.monotonic() < deadline, "metrics never answered on 127.0.0.1"
                time.sleep(0.2)
        # 127.0.0.2 is this machine too, but not the address 127.0.0.1: a scraper elsewhere
        if from_elsewhere:
            assert "# TYPE" in _scrape("127.0.0.2", port)
        else:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.2", port), timeout=2).close()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
