"""Bad input and races around cases, read as chat logs: each gets a clear answer and a
consistent record."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.action import OpenCase
from bot.case import CaseStatus
from bot.connection import Redis
from bot.errors import CaseConflict, CaseNotFound, InvalidRequest, PermissionDenied, PolicyRejected
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.decision import Decision
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.verdict import Route
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, member, moderator

pytestmark = pytest.mark.review

INSULT = "you're kind of an idiot about this"


def _review(redis: Redis, settings: Settings, policy: Policy, metrics: Metrics) -> ReviewHarness:
    chat = ChatHarness(
        redis=redis,
        settings=settings,
        policy=policy,
        classifier=FixedScores({INSULT: {"toxicity": 0.7}}),
        metrics=metrics,
    )
    return ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))


@pytest.fixture
def review(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    return _review(redis, settings, default_policy, metrics)


async def _queued_insult(review: ReviewHarness, user: str = "bob") -> str:
    await review.chat.say(INSULT, user=user)
    await review.settle()
    [case] = await review.service.queue(moderator())
    return case.id


async def _labels(review: ReviewHarness) -> list[dict[str, object]]:
    entries = await review.chat.redis.xrange(review.service.keys.tenant(moderator().tenant).labels)
    return [json.loads(fields[b"label"]) for _, fields in entries]


async def test_two_moderators_deciding_at_once_one_wins(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review)
    ana, ben = moderator("mod-ana"), moderator("mod-ben")
    results = await asyncio.gather(
        review.service.decide(ana, case_id, Decision(kind="timeout", duration_s=600)),
        review.service.decide(ben, case_id, Decision(kind="dismiss")),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], CaseConflict)
    case = await review.service.case(ana, case_id)
    assert f"already {case.status.value}" in str(losers[0])
    assert [e.kind for e in case.events].count("decided") == 1
    assert len(await _labels(review)) == 1
    await review.settle()
    expected = (
        ["open_case", "delete", "warn", "timeout"]
        if case.decided_by == ("console:mod-ana")
        else ["open_case"]
    )
    assert review.platform.types("bob") == expected


async def test_two_moderators_claiming_at_once_one_gets_it(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review)
    results = await asyncio.gather(
        review.service.claim(moderator("mod-ana"), case_id),
        review.service.claim(moderator("mod-ben"), case_id),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Case", "CaseConflict"]
    case = await review.service.case(moderator(), case_id)
    assert [e.kind for e in case.events].count("claimed") == 1


async def test_a_claim_blocks_other_deciders_until_it_expires(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review)
    await review.service.claim(moderator("mod-ana"), case_id)
    with pytest.raises(CaseConflict, match="claimed by console:mod-ana"):
        await review.service.decide(moderator("mod-ben"), case_id, Decision(kind="dismiss"))
    review.clock.advance(timedelta(hours=1))
    case, _ = await review.service.decide(moderator("mod-ben"), case_id, Decision(kind="dismiss"))
    assert case.decided_by == "console:mod-ben"


async def test_deciding_again_on_a_closed_case_is_refused(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review)
    await review.service.decide(moderator(), case_id, Decision(kind="dismiss"))
    with pytest.raises(CaseConflict, match="closed: already dismissed by console:mod-ana"):
        await review.service.decide(moderator(), case_id, Decision(kind="ban"))
    with pytest.raises(CaseConflict, match="closed"):
        await review.service.claim(moderator(), case_id)


async def test_sanction_after_the_bot_already_deleted_the_message(review: ReviewHarness) -> None:
    await review.chat.say("join us at discord.gg/raid", user="carol")
    await review.settle()
    assert review.platform.types("carol") == ["delete", "warn", "open_case"]
    case, actions = await review.service.decide(moderator(), "1", Decision(kind="ban"))
    assert [a.type for a in actions] == ["warn", "ban"]  # no second delete
    skipped = [a for a in case.actions if a.state == "skipped"]
    assert [(a.type, a.detail) for a in skipped] == [("delete", "the message was already deleted")]
    await review.settle()
    assert review.platform.types("carol")[-2:] == ["warn", "ban"]


async def test_removal_of_a_message_its_author_already_deleted(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review)
    [message_id] = [a.message_id for a in review.platform.performed]
    review.platform.deleted.add(message_id)  # bob deleted it himself
    case, _ = await review.service.decide(moderator(), case_id, Decision(kind="remove"))
    assert case.status is CaseStatus.ACTIONED
    await review.settle()
    case = await review.service.case(moderator(), case_id)
    assert [(a.type, a.state) for a in case.actions] == [
        ("delete", "failed"),
        ("warn", "performed"),
    ]
    assert case.events[-1].kind == "action_failed"
    assert "already deleted" in case.events[-1].detail
    assert review.platform.types("bob") == ["open_case", "warn"]  # still told why
    assert await review.service.strikes(moderator(), "bob") == 1


async def test_sanctioning_a_member_who_left(review: ReviewHarness) -> None:
    case_id = await _queued_insult(review, user="dave")
    review.platform.left.add("dave")
    case, _ = await review.service.decide(
        moderator(), case_id, Decision(kind="timeout", duration_s=3600)
    )
    await review.settle()
    case = await review.service.case(moderator(), case_id)
    assert case.status is CaseStatus.ACTIONED
    assert {a.type: a.state for a in case.actions} == {
        "delete": "performed", "warn": "failed", "timeout": "failed",
    }  # fmt: skip
    assert "they left the server" in case.events[-1].detail
    dead = await review.chat.redis.xrange(review.chat.streams.dead)
    assert len(dead) == 2
    assert (await review.service.stats(moderator())).actions_failed == 2
    # The history outlives the membership.
    assert [c.id for c in await review.service.history(moderator(), "dave")] == [case_id]


async def test_appeals_that_cannot_be_made(review: ReviewHarness) -> None:
    service = review.service
    open_id = await _queued_insult(review)
    with pytest.raises(CaseConflict, match="no action was taken"):
        await service.appeal(member("bob"), open_id, "I was joking")
    await service.decide(moderator(), open_id, Decision(kind="dismiss"))
    with pytest.raises(CaseConflict, match="closed: already dismissed"):
        await service.appeal(member("bob"), open_id, "I was joking")

    await review.chat.say("discord.gg/raid", user="carol")
    await review.settle()
    with pytest.raises(CaseNotFound):  # not hers: do not even say it exists
        await service.appeal(member("bob"), "2", "carol is innocent")
    with pytest.raises(InvalidRequest, match="empty"):
        await service.appeal(member("carol"), "2", "   ")
    await service.appeal(member("carol"), "2", "it was our own server")
    with pytest.raises(CaseConflict, match="already appealed"):
        await service.appeal(member("carol"), "2", "please")
    with pytest.raises(CaseConflict, match=r"overturn .* or uphold"):
        await service.decide(moderator(), "2", Decision(kind="dismiss"))
    case, actions = await service.decide(moderator(), "2", Decision(kind="uphold", reason="ads"))
    assert case.status is CaseStatus.ACTIONED
    assert "the decision stands" in actions[0].model_dump()["text"]
    with pytest.raises(CaseConflict, match="already decided"):
        await service.appeal(member("carol"), "2", "again")
    assert [e.kind for e in case.events][-3:] == ["appealed", "rejudged", "upheld"]


@pytest.mark.parametrize("case_id", ["999", "not-a-case", ""])
async def test_unknown_case_ids(review: ReviewHarness, case_id: str) -> None:
    service, mod = review.service, moderator()
    with pytest.raises(CaseNotFound, match="no case"):
        await service.case(mod, case_id)
    with pytest.raises(CaseNotFound):
        await service.claim(mod, case_id)
    with pytest.raises(CaseNotFound):
        await service.decide(mod, case_id, Decision(kind="dismiss"))
    with pytest.raises(CaseNotFound):
        await service.appeal(member("bob"), case_id, "why")


async def test_members_are_not_moderators(review: ReviewHarness) -> None:
    service, bob = review.service, member("bob")
    case_id = await _queued_insult(review, user="bob")
    for call in (
        service.queue(bob),
        service.claim(bob, case_id),
        service.decide(bob, case_id, Decision(kind="dismiss")),
        service.stats(bob),
        service.set_shadow(bob, True),
        service.test(bob, "hello"),
        service.history(bob, "carol"),
    ):
        with pytest.raises(PermissionDenied, match=r"console:bob may not .*: moderators only"):
            await call
    # A member sees their own case and history, nobody else's.
    assert (await service.case(bob, case_id)).id == case_id
    assert [c.id for c in await service.history(bob, "bob")] == [case_id]
    with pytest.raises(CaseNotFound):
        await service.case(member("carol"), case_id)


async def test_moderator_users_from_the_policy(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    policy = default_policy.model_copy(
        update={"moderators": default_policy.moderators.model_copy(update={"users": ("erin",)})}
    )
    review = _review(redis, settings, policy, metrics)
    assert await review.service.queue(member("erin")) == []


async def test_strikes_decay_after_the_window(review: ReviewHarness) -> None:
    for n in range(2):  # two incidents: minutes apart, past the rule's window
        await review.chat.say(f"discord.gg/ad{n}", user="carol", after=timedelta(minutes=5))
        await review.settle()
    review.clock.advance(timedelta(days=8))
    await review.chat.say("discord.gg/ad3", user="carol", after=timedelta(days=8))
    await review.settle()
    assert "timeout" not in review.platform.types("carol")
    assert await review.service.strikes(moderator(), "carol") == 1


async def test_the_worker_opens_the_case_and_a_redelivery_opens_none(
    review: ReviewHarness,
) -> None:
    message = review.chat.message("discord.gg/ad", user="carol")
    await review.chat.ingest.publish(message)
    await review.chat.ingest.publish(message)  # the same message delivered twice
    await review.chat.worker.ensure_group()
    while await review.chat.worker.step():
        pass
    # no adapter has run yet: the case came with the verdict
    case = await review.service.case(moderator(), "1")
    assert case.message.key == message.key
    assert case.status.value == "actioned"
    open_case = [a for a in await review.chat.actions() if isinstance(a, OpenCase)]
    assert [a.case_id for a in open_case] == ["1"]
    await review.settle()
    assert [c.id for c in await review.service.history(moderator(), "carol")] == ["1"]
    assert await review.service.strikes(moderator(), "carol") == 1


async def test_a_moderator_overturns_an_automatic_action(review: ReviewHarness) -> None:
    await review.chat.say("shut up you f4gg0t", user="mallory")
    await review.settle()
    case, actions = await review.service.decide(
        moderator(), "1", Decision(kind="overturn", reason="quoting a slur to report it")
    )
    assert [(a.type, a.model_dump().get("sanction")) for a in actions] == [
        ("lift", "timeout"),
        ("warn", None),
    ]
    assert "cannot be undone on console: delete, warn" in case.events[-2].detail
    assert await review.service.strikes(moderator(), "mallory") == 0


async def test_member_reports_land_in_the_queue_once(review: ReviewHarness) -> None:
    message = review.chat.message("meet me after school, you know what I mean", user="zed")
    first = await review.service.report(member("amy"), message, "creepy")
    again = await review.service.report(member("ben"), message)
    assert first.id == again.id
    assert [e.kind for e in again.events] == ["reported", "reported"]
    [queued] = await review.service.queue(moderator())
    assert queued.source == "report"
    with pytest.raises(InvalidRequest, match="no category"):
        await review.service.decide(moderator(), queued.id, Decision(kind="remove"))
    case, _ = await review.service.decide(
        moderator(), queued.id, Decision(kind="remove", category="harassment")
    )
    assert case.category == "harassment"
    assert (await _labels(review))[0]["labels"] == {"harassment": 1}


async def test_shadow_mode_per_channel_records_and_does_nothing(review: ReviewHarness) -> None:
    await review.service.set_shadow(moderator(), True, channel="C2")
    await review.chat.say("shut up you f4gg0t", user="mallory", channel="C2")
    await review.settle()
    assert review.platform.types("mallory") == ["open_case"]
    case = await review.service.case(moderator(), "1")
    assert case.shadow
    assert case.status is CaseStatus.OPEN
    assert {a.state for a in case.actions} == {"shadow"}
    assert await review.service.strikes(moderator(), "mallory") == 0
    assert await review.service.shadow_state(moderator()) == {"channel:C2": True}
    # Elsewhere the bot acts, and a moderator's own decision is never silenced.
    await review.chat.say("shut up you f4gg0t", user="mallory", channel="C1")
    await review.settle()
    assert review.platform.types("mallory")[1:3] == ["delete", "warn"]
    await review.service.decide(moderator(), "1", Decision(kind="remove"))
    await review.settle()
    # ... and 3 + 3 strike points reach the ladder's second rung.
    assert review.platform.types("mallory")[-4:] == ["delete", "warn", "warn", "kick"]
    await review.service.set_shadow(moderator(), False, channel="C2")
    assert await review.service.shadow_state(moderator()) == {}


async def test_shadow_mode_from_the_policy_file(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> None:
    review = _review(redis, settings, default_policy.model_copy(update={"shadow": True}), metrics)
    verdict = await review.chat.say("discord.gg/ad", user="carol")
    assert verdict.shadow
    await review.settle()
    assert review.platform.types("carol") == ["open_case"]
    [case] = await review.service.queue(moderator())
    assert case.shadow
    assert [e.kind for e in case.events] == ["opened", "shadow"]
    assert (await review.service.stats(moderator())).cases_shadow == 1


@pytest.fixture
def policy_file(tmp_path: Path) -> tuple[Path, str]:
    """A writable copy of the default policy beside its FAQ file, and its text."""
    policies = Path(__file__).resolve().parent.parent / "bot" / "policies"
    text = (policies / "default.yaml").read_text()
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    (tmp_path / "faq.yaml").write_text((policies / "faq.yaml").read_text())
    return path, text


async def test_policy_test_and_reload(review: ReviewHarness, policy_file: tuple[Path, str]) -> None:
    verdict = await review.service.test(moderator(), "you f4gg0t")
    assert (verdict.route, verdict.category) == (Route.ACT, "hate")
    assert await review.chat.redis.xlen(review.chat.streams.actions("console")) == 0

    path, text = policy_file
    service = ModerationService(
        redis=review.chat.redis,
        streams=review.chat.streams,
        policy=review.chat.policy,
        policy_path=path,
    )
    assert await service.reload_policy(moderator()) == review.chat.policy.version
    await asyncio.to_thread(path.write_text, text.replace("severity: low", "severity: tiny", 1))
    with pytest.raises(PolicyRejected, match=r"categories\.toxicity\.severity") as info:
        await service.reload_policy(moderator())
    assert info.value.error.fix.startswith("use one of")
    assert service.policy.version == review.chat.policy.version

    # A policy whose FAQ file is missing is refused too, rather than failing every batch.
    (path.parent / "faq.yaml").unlink()
    await asyncio.to_thread(path.write_text, text)
    with pytest.raises(PolicyRejected, match=r"faq\.yaml"):
        await service.reload_policy(moderator())
