"""The numbers `modtriage bench --json` takes from the embedded classifier (keys, not speed)."""

from __future__ import annotations

from pathlib import Path

from bot.classifiers.benchmark import classifier_benchmark
from bot.policy import Policy
from bot.settings import Settings


def test_benchmark_reports_the_published_keys(default_policy: Policy, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, batch_size=4, _env_file=None)  # type: ignore[call-arg]
    numbers = classifier_benchmark(settings, default_policy, messages=8, single=2, repeats=1)
    assert {
        "classifier_msgs_per_s_batched",
        "classifier_msgs_per_s_single",
        "encoder_load_s",
        "worker_rss_mib",
    } <= set(numbers)
    assert all(value > 0 for value in numbers.values())
