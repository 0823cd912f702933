"""The numbers `modtriage bench --json` takes from the embedded classifier (keys, not speed)."""

from __future__ import annotations

from pathlib import Path

from bot.classifiers.benchmark import LONG_TOKENS, classifier_benchmark, long_posts
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.faq.benchmark import faq_benchmark
from bot.policy import Policy, load_policy
from bot.settings import Settings
from tests.conftest import DEFAULT_POLICY


def test_benchmark_reports_the_published_keys(default_policy: Policy, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, batch_size=4, _env_file=None)  # type: ignore[call-arg]
    numbers = classifier_benchmark(
        settings, default_policy, messages=8, single=2, long=3, repeats=1
    )
    assert {
        "classifier_msgs_per_s_batched",
        "classifier_msgs_per_s_single",
        "classifier_msgs_per_s_long",
        "classifier_msgs_per_s_long_single",
        "encoder_load_s",
        "worker_rss_mib",
    } <= set(numbers)
    assert all(value > 0 for value in numbers.values())


def test_long_posts_are_long_and_all_different(tmp_path: Path) -> None:
    encoder = OnnxEncoder(model_dir=Settings(_env_file=None).encoder_dir)  # type: ignore[call-arg]
    lines = ["hey all", "anyone around for the raid tonight?", "lol no", "check the pins"]
    posts = long_posts(lines, encoder, count=5)
    assert len(set(posts)) == 5
    assert all(encoder.token_count(post) >= LONG_TOKENS for post in posts)
    # no longer than needed: without its last line a post is short again
    for post in posts:
        last = next(line for line in lines if post.endswith(line))
        assert encoder.token_count(post[: -len(last)]) < LONG_TOKENS


def test_faq_benchmark_times_one_question_per_call(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    numbers = faq_benchmark(settings, load_policy(DEFAULT_POLICY), questions=12)
    assert set(numbers) == {"faq_match_ms_p50", "faq_match_ms_p99"}
    assert 0 < numbers["faq_match_ms_p50"] <= numbers["faq_match_ms_p99"]
