"""The whole moderation story without a platform: cases, the queue, strikes, an appeal."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from bot.case import CaseStatus
from bot.connection import Redis
from bot.errors import CaseConflict
from bot.metrics import Metrics
from bot.policy import Policy
from bot.review.commands import app as review_app
from bot.review.decision import Decision
from bot.settings import Settings
from bot.verdict import Route
from tests.harness import ChatHarness
from tests.review_harness import Clock, FixedScores, ReviewHarness, member, moderator

pytestmark = pytest.mark.review

BORDERLINE = "honestly you're kind of an idiot about this"


@pytest.fixture
def review(
    redis: Redis, settings: Settings, default_policy: Policy, metrics: Metrics
) -> ReviewHarness:
    chat = ChatHarness(
        redis=redis,
        settings=settings,
        policy=default_policy,
        classifier=FixedScores({BORDERLINE: {"toxicity": 0.7}}),
        metrics=metrics,
    )
    return ReviewHarness(chat=chat, clock=Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))


async def test_the_whole_story(
    review: ReviewHarness, redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat, service, platform = review.chat, review.service, review.platform
    ana, ben = moderator("mod-ana"), moderator("mod-ben")

    # A slur is removed and a case opened; hate is worth 3 strike points, the first rung.
    verdict = await chat.say("shut up you f4gg0t", user="mallory")
    assert (verdict.route, verdict.category) == (Route.ACT, "hate")
    await review.settle()
    # one notice per incident: the rule's warning, then the ladder's timeout without a second
    assert platform.types("mallory") == ["delete", "warn", "open_case", "timeout"]
    slur_case = await service.case(ana, "1")
    assert slur_case.status is CaseStatus.ACTIONED
    assert slur_case.message.author.id == "mallory"
    assert slur_case.verdict.evidence[0].matched == "f4gg0t"
    assert [(a.type, a.state) for a in slur_case.actions] == [
        ("delete", "performed"),
        ("warn", "performed"),
        ("timeout", "performed"),
    ]
    assert [e.kind for e in slur_case.events] == ["opened", "actioned", "strike", "strike_sanction"]
    assert platform.performed[2].case_id == "1"  # the review card knows its case

    # A borderline insult waits in the queue; one moderator claims it, the other cannot.
    verdict = await chat.say(BORDERLINE, user="bob")
    assert verdict.route is Route.REVIEW
    await review.settle()
    assert platform.types("bob") == ["open_case"]
    queue = await service.queue(ana)
    assert [(c.id, c.message.text) for c in queue] == [("2", BORDERLINE)]
    claimed = await service.claim(ana, "2")
    assert claimed.claimed_by == "console:mod-ana"
    with pytest.raises(CaseConflict, match="already claimed by console:mod-ana"):
        await service.claim(ben, "2")
    dismissed, actions = await service.decide(ana, "2", Decision(kind="dismiss", reason="banter"))
    assert actions == []
    assert dismissed.status is CaseStatus.DISMISSED
    assert await service.queue(ana) == []
    await review.settle()
    assert platform.types("bob") == ["open_case"]  # nothing happened to bob

    # A third strike in a week triggers the 1-day timeout, explained to the member.
    for n in range(3):  # three incidents, hours apart
        await chat.say(f"join us at discord.gg/raid{n}", user="carol", after=timedelta(hours=2))
        await review.settle()
        if n < 2:
            assert "timeout" not in platform.types("carol")
    assert platform.types("carol").count("timeout") == 1
    timeout = next(a for a in platform.performed if a.type == "timeout" and a.user_id == "carol")
    third = timeout.case_id
    assert third is not None
    assert timeout.model_dump()["duration_s"] == 86400
    # one notice per incident: the rule's warning went out, the timeout carries the reason
    assert [a.type for a in platform.performed if a.case_id == third].count("warn") == 1
    assert "3 strike points in 1 week" in timeout.reason
    assert await service.strikes(ana, "carol") == 3

    # Carol appeals; a moderator overturns; the timeout is lifted and the strike removed.
    appealed = await service.appeal(member("carol"), third, "those were links to our own event")
    assert appealed.status is CaseStatus.APPEALED
    assert [c.id for c in await service.queue(ana)] == [third]
    await review.settle()
    assert platform.types("carol")[-1] == "notify"  # moderators hear about the appeal
    overturned, actions = await service.decide(ana, third, Decision(kind="overturn"))
    assert overturned.status is CaseStatus.OVERTURNED
    assert [a.type for a in actions] == ["lift", "warn"]
    await review.settle()
    assert platform.types("carol")[-2:] == ["lift", "warn"]
    assert platform.performed[-2].model_dump()["sanction"] == "timeout"
    assert await service.strikes(ana, "carol") == 2
    events = [e.kind for e in (await service.case(ana, third)).events]
    assert events[-4:] == ["appealed", "rejudged", "overturned", "strike"]

    # Every decision is a labelled example for retraining.
    labels = [
        json.loads(fields[b"label"])
        for _, fields in await chat.redis.xrange(service.keys.tenant(ana.tenant).labels)
    ]
    assert [(row["text"], row["labels"], row["meta"]["decision"]) for row in labels] == [
        (BORDERLINE, {"toxicity": 0}, "dismiss"),
        ("join us at discord.gg/raid2", {"spam": 0}, "overturn"),
    ]

    stats = await service.stats(ana)
    assert stats.cases_opened == 5
    assert stats.statuses["actioned"] == 3
    assert stats.statuses["dismissed"] == 1
    assert stats.statuses["overturned"] == 1
    assert stats.appeals == 1
    assert stats.actions["timeout"] == 2
    assert stats.reviewer_agreement == 0.0
    assert stats.queue == 0

    # The operators see every state change from the command line.
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MODTRIAGE_NAMESPACE", namespace)
    runner = CliRunner()
    shown = await asyncio.to_thread(runner.invoke, review_app, ["case", "show", third])
    assert shown.exit_code == 0, shown.output
    for line in (
        f"case {third} · overturned · spam",
        "message: 'join us at discord.gg/raid2'",
        "verdict: act by rules (fixed-scores): spam "
        "(link:invite on 'discord.gg/raid2', score 1.00)",
        "appeal: 'those were links to our own event'",
        "timeout 86400s by modtriage: performed — 3 strike points in 1 week -> a 1 day timeout",
        "lift by console:mod-ana: performed",
        "appealed by console:carol: those were links to our own event",
        "overturned by console:mod-ana: overturned; undone: lift timeout; "
        "cannot be undone on console: delete, warn",
    ):
        assert line in shown.output
    totals = await asyncio.to_thread(runner.invoke, review_app, ["stats", "--json"])
    assert totals.exit_code == 0, totals.output
    assert json.loads(totals.output)["statuses"]["overturned"] == 1
