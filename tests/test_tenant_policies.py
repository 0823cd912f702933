"""Each tenant is moderated under its own policy, named in a tenants file, and every verdict
says which policy version decided it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.connection import Redis
from bot.errors import PolicyError
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.policy_sources import load_policy_sources
from bot.settings import Settings
from bot.tenant import Tenant
from bot.verdict import Route
from tests.harness import ChatHarness
from tests.policy_variants import write_policy

pytestmark = pytest.mark.tenancy


async def test_two_tenants_moderate_the_same_text_under_their_own_policies(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics, tmp_path: Path
) -> None:
    strict = write_policy(tmp_path / "policies" / "strict.yaml", name="strict", toxic=("turnip",))
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  console:STRICT: policies/strict.yaml\n")
    chat = ChatHarness(
        redis=redis,
        settings=settings.model_copy(update={"tenants_file": tenants}),
        policy=default_policy,
        classifier=RulesOnlyClassifier(),
        metrics=metrics,
        workspace="RELAXED",
    )
    relaxed_said = chat.message("you turnip", user="rita")
    strict_said = chat.message("you turnip", user="sam").model_copy(update={"workspace": "STRICT"})
    await chat.ingest.publish(relaxed_said)
    await chat.ingest.publish(strict_said)
    await chat.worker.ensure_group()
    assert await chat.worker.step() == 2  # one batch, two tenants

    relaxed = await chat.verdict(relaxed_said)
    strict_verdict = await chat.verdict(strict_said)
    assert relaxed is not None
    assert strict_verdict is not None
    assert relaxed.route is Route.ALLOW
    assert relaxed.policy_version == default_policy.version
    assert strict_verdict.route is Route.ACT
    assert strict_verdict.category == "toxicity"
    assert strict_verdict.evidence[0].rule == "deny:turnip"
    assert strict_verdict.policy_version == load_policy(strict).version != default_policy.version
    warned = [a for a in await chat.actions() if a.type == "warn"]
    assert [a.user_id for a in warned] == ["sam"]


@pytest.mark.parametrize(
    ("text", "key", "fix"),
    [
        ("- slack:T1\n", "(top level)", "write one key, 'tenants:'"),
        ("tenant:\n  slack:T1: p.yaml\n", "tenant", "write one key, 'tenants:'"),
        ("tenants:\n  T1: p.yaml\n", "tenants.T1", "write <platform>:<workspace>"),
        ("tenants:\n  irc:T1: p.yaml\n", "tenants.irc:T1", "write <platform>:<workspace>"),
        ("tenants:\n  slack:T1: missing.yaml\n", "tenants.slack:T1", "check the path"),
        ("tenants:\n  slack:T1:\n", "tenants.slack:T1", "write the policy file's path"),
        ("tenants:\n  slack:T9: p.yaml\n", "tenants.slack:T9", "add slack:T9 to MODTRIAGE_WORK"),
    ],
)
def test_a_bad_tenants_file_stops_start_up_naming_file_key_and_fix(
    tmp_path: Path, text: str, key: str, fix: str
) -> None:
    write_policy(tmp_path / "p.yaml", name="p")
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy_sources(
            tenants, default=None, served=(Tenant.parse("slack:T1"), Tenant.parse("slack:T2"))
        )
    assert caught.value.file == str(tenants)
    assert caught.value.key == key
    assert caught.value.fix.startswith(fix)
    assert str(caught.value).startswith(f"{tenants}: {key}: ")


def test_a_bad_policy_named_by_the_tenants_file_stops_start_up_with_its_own_file(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "categories:\n  spam:\n    description: unsolicited stuff here\n    sevrity: low\n"
    )
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  slack:T1: bad.yaml\n")
    sources = load_policy_sources(tenants, default=None)
    with pytest.raises(PolicyError) as caught:
        sources.load_own()
    assert caught.value.file == str(bad)
    assert caught.value.key == "categories.spam.sevrity"
