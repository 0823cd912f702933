"""Each tenant is moderated under its own policy, named in a tenants file, and every verdict
says which policy version decided it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.classifiers import build_classifier
from bot.classifiers.heads import TrainConfig
from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.classifiers.training import train_heads
from bot.connection import Redis
from bot.errors import PermissionDenied, PolicyError
from bot.keys import Streams
from bot.metrics import Metrics
from bot.policy import Policy, load_policy
from bot.policy_sources import load_policy_sources
from bot.review.actor import Actor
from bot.review.service import ModerationService
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


async def test_a_moderator_removed_by_a_reload_elsewhere_loses_rights_here(
    redis: Redis, settings: Settings, tmp_path: Path
) -> None:
    """Two service processes (say the Slack and the Discord one) share the policy book: the
    reload in one reaches the other's permission checks at once."""
    path = write_policy(tmp_path / "team.yaml", name="team", moderator_roles=("helpers",))
    policy = load_policy(path)
    streams = Streams(namespace=settings.namespace)
    here = ModerationService(redis=redis, streams=streams, policy=policy, policy_path=path)
    there = ModerationService(redis=redis, streams=streams, policy=policy, policy_path=path)
    helper = Actor(platform="console", workspace="T1", user_id="hana", roles=("helpers",))
    admin = Actor(platform="console", workspace="T1", user_id="root", is_admin=True)
    assert await here.queue(helper) == []

    write_policy(path, name="team", moderator_roles=("staff",))
    await there.reload_policy(admin)
    with pytest.raises(PermissionDenied, match="moderators only"):
        await here.queue(helper)


async def test_a_tenants_own_category_is_scored_by_heads_trained_for_its_policy(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics, tmp_path: Path
) -> None:
    """A guild adds a category of its own and runs `modtriage train --policy` on it: the
    worker scores that category for the guild only, on the one encoder it loaded."""
    path = write_policy(tmp_path / "policies" / "books.yaml", name="books")
    raw = yaml.safe_load(path.read_text())
    raw["categories"]["spoilers"] = {
        "description": "Revealing plot twists or endings of films, series or books.",
        "severity": "low",
        "on_act": ["open_case"],
        "examples": {
            "positive": ["the twist is that he was a ghost all along"] * 2,
            "negative": ["has anyone watched the new episode yet?"] * 2,
        },
    }
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    books = load_policy(path)
    embedded = settings.model_copy(update={"classifier": "embedded"})
    trained = train_heads(
        books, encoder=OnnxEncoder(), data_dir=None, cache_dir=tmp_path / "emb",
        config=TrainConfig(epochs=2),
    )  # fmt: skip
    trained.heads.save(embedded.data_dir / "heads" / books.name)
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  console:BOOKS: policies/books.yaml\n")
    chat = ChatHarness(
        redis=redis,
        settings=embedded.model_copy(update={"tenants_file": tenants}),
        policy=default_policy,
        classifier=build_classifier(embedded, default_policy),
        metrics=metrics,
        workspace="ELSEWHERE",
    )
    text = "the ending: the narrator made it all up"
    there = chat.message(text, user="rita")
    here = chat.message(text, user="sam").model_copy(update={"workspace": "BOOKS"})
    for said in (there, here):
        await chat.ingest.publish(said)
    await chat.worker.ensure_group()
    await chat.worker.step()

    judged = {said.workspace: await chat.verdict(said) for said in (there, here)}
    scored = {
        ws: set(v.classification.scores) for ws, v in judged.items() if v and v.classification
    }
    assert "spoilers" in scored["BOOKS"]
    assert "spoilers" not in scored["ELSEWHERE"]
    assert scored["ELSEWHERE"] >= {"hate", "spam"}
