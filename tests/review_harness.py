"""The chat-log harness plus the review side: the moderation service, the action dispatcher,
and a platform that records what it was asked to do.

review = ReviewHarness(chat=chat)
await review.chat.say("you f4gg0t", user="mallory")
await review.settle()                      # the dispatcher runs every action
assert [a.type for a in review.platform.performed] == ["delete", "warn"]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.action import Action
from bot.adapters.dispatch import PartitionDispatchers
from bot.classification import Classification
from bot.errors import ActionError
from bot.review.actor import Actor
from bot.review.service import ModerationService
from tests.harness import ChatHarness


class RecordingPlatform:
    """The far side of an adapter: keeps every action it performed, and refuses what a real
    platform refuses (a member who left, a message already deleted) with the status it uses."""

    platform = "console"
    handles = frozenset(
        {"delete", "warn", "timeout", "kick", "ban", "lift", "reply", "notify", "open_case"}
    )

    def __init__(self) -> None:
        self.performed: list[Action] = []
        self.left: set[str] = set()
        self.deleted: set[str] = set()

    async def perform(self, action: Action) -> None:
        if action.type not in self.handles:
            raise TypeError(f"console does not handle {action.type!r}")
        if action.user_id in self.left and action.type in {"warn", "timeout", "kick", "ban"}:
            raise ActionError(action.id, "unknown member: they left the server", status=404)
        if action.type == "delete":
            if action.message_id in self.deleted:
                raise ActionError(action.id, "unknown message: already deleted", status=404)
            self.deleted.add(action.message_id)
        self.performed.append(action)

    def types(self, user: str | None = None) -> list[str]:
        return [a.type for a in self.performed if user is None or a.user_id == user]


class FixedScores:
    """A test double for the small model (the model is not what these tests are about): the
    scores it returns for a text are written in the test."""

    name = "fixed-scores"

    def __init__(self, scores: dict[str, dict[str, float]]) -> None:
        self._scores = scores

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [Classification(scores=self._scores.get(t, {}), model=self.name) for t in texts]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def moderator(name: str = "mod-ana") -> Actor:
    return Actor(platform="console", workspace="T1", user_id=name, roles=("moderator",))


def member(name: str) -> Actor:
    return Actor(platform="console", workspace="T1", user_id=name)


class ReviewHarness:
    def __init__(
        self,
        *,
        chat: ChatHarness,
        clock: Clock,
        stream_maxlen: int = 100_000,
        trim_interval_s: float = 5.0,
    ) -> None:
        self.chat = chat
        self.clock = clock
        chat.use_clock(clock)
        self.platform = RecordingPlatform()
        self.service = ModerationService(
            redis=chat.redis, streams=chat.streams, policy=chat.policy, clock=clock,
            stream_maxlen=stream_maxlen,
        )  # fmt: skip
        self.dispatcher = PartitionDispatchers(
            redis=chat.redis,
            streams=chat.streams,
            adapter=self.platform,
            consumer="review-harness",
            block_ms=5,
            moderation=self.service,
            maxlen=stream_maxlen,
            trim_interval_s=trim_interval_s,
        )

    async def settle(self) -> None:
        """Run the dispatcher until the actions stream is drained."""
        await self.dispatcher.ensure_group()
        for _ in range(100):
            if await self.dispatcher.step() == 0:
                return
        raise AssertionError("the actions stream did not drain")
