"""A policy with a mistake stops start-up naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import PolicyError
from bot.policy import load_policy
from tests.conftest import DEFAULT_POLICY


def _write(tmp_path: Path, mutate: object) -> Path:
    data = yaml.safe_load(DEFAULT_POLICY.read_text())
    assert callable(mutate)
    mutate(data)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_default_policy_loads_with_every_design_category() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert set(policy.categories) == {
        "toxicity", "harassment", "hate", "sexual", "sexual_minors", "violence", "self_harm",
        "spam",
    }  # fmt: skip
    assert policy.categories["self_harm"].support
    assert policy.escalation.languages == ("en",)
    assert len(policy.version) == 12


@pytest.mark.parametrize(
    ("mutate", "key", "problem", "fix"),
    [
        pytest.param(
            lambda d: d["categories"]["hate"].update(threshold={"act": 0.9}),
            "categories.hate.threshold",
            "Extra inputs",
            "remove this key or correct its spelling",
            id="misspelt-key",
        ),
        pytest.param(
            lambda d: d["categories"]["hate"]["thresholds"].update(review=0.99),
            "categories.hate.thresholds",
            "review <= escalate <= act",
            "review <= escalate",
            id="thresholds-out-of-order",
        ),
        pytest.param(
            lambda d: d["categories"]["spam"]["thresholds"].update(act=1.5),
            "categories.spam.thresholds.act",
            "less than or equal to 1",
            "between 0 and 1",
            id="probability-above-one",
        ),
        pytest.param(
            lambda d: d["categories"]["toxicity"].update(on_act=["delete", "shame"]),
            "categories.toxicity.on_act.1",
            "Input should be",
            "use one of",
            id="unknown-action",
        ),
        pytest.param(
            lambda d: d["categories"]["self_harm"].update(on_act=["delete", "reply"]),
            "categories.self_harm",
            "must not punish",
            "reply, notify",
            id="support-category-punishes",
        ),
        pytest.param(
            lambda d: d["categories"]["violence"].pop("timeout"),
            "categories.violence",
            "no 'timeout'",
            "timeout: 10m",
            id="timeout-without-duration",
        ),
        pytest.param(
            lambda d: d["strikes"].update(window="a week"),
            "strikes.window",
            "duration",
            "'7d'",
            id="bad-duration",
        ),
        pytest.param(
            lambda d: d["rules"]["links"].update(scam_patterns=["free (nitro"]),
            "rules.links.scam_patterns",
            "not a valid regular expression",
            "regular expression",
            id="bad-regex",
        ),
        pytest.param(
            lambda d: d["rules"]["flood"].update(category="flooding"),
            "rules.flood.category",
            "unknown category 'flooding'",
            "use one of harassment, hate",
            id="unknown-category-reference",
        ),
        pytest.param(
            lambda d: d["escalation"].update(languages=["en", "French"]),
            "escalation.languages.1",
            "pattern",
            "ISO 639-1 language codes",
            id="bad-language-code",
        ),
        pytest.param(
            lambda d: d.update(categories={"Hate Speech": d["categories"]["hate"]}),
            "categories.Hate Speech",
            "pattern",
            "lower-case letters",
            id="bad-category-id",
        ),
    ],
)
def test_policy_mistakes_name_file_key_and_fix(
    tmp_path: Path, mutate: object, key: str, problem: str, fix: str
) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert error.file == str(path)
    assert error.key == key
    assert problem in error.problem
    assert fix in error.fix or fix in error.problem
    assert str(path) in str(error)


def test_yaml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("categories:\n  hate:\n    description: [unclosed\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.key.startswith("line ")
    assert "not valid YAML" in str(caught.value)


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "nope.yaml")


def test_empty_policy_needs_categories(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("name: empty\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.key == "categories"
    assert caught.value.fix == "add this key"
