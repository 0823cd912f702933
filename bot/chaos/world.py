"""The world chaos scenarios run in: a Redis server of its own, two workers and a console
dispatcher; and the scene of one scenario in it: the entries it published and how it ends
(drained, counted, judged). Scenarios that need the same settings share a world, one scene
after another, each counted on its own entries."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from bot.chaos.cluster import Cluster
from bot.chaos.faults import HangingServer
from bot.chaos.redis_server import RedisServer
from bot.chaos.report import ScenarioResult
from bot.chaos.tally import ADAPTER_GROUP, Tally, dead_reasons, drained, tally
from bot.chaos.traffic import Kind, Published, conversation, publish
from bot.connection import Redis, ensure_group, redis_client
from bot.message import Message
from bot.streams import Streams

__all__ = ["ChaosSize", "Faults", "World"]


class ChaosSize(BaseModel):
    """How big a run is: ``make chaos`` runs the defaults, ``make test`` :meth:`short`."""

    model_config = ConfigDict(frozen=True)

    messages: int = Field(default=2000, ge=20)
    worker_kills: int = Field(default=5, ge=1)
    dispatcher_kills: int = Field(default=3, ge=1)
    redis_down_s: float = Field(default=3.0, gt=0, description="longer than clients retry")
    claim_idle_ms: int = Field(default=1500, ge=100)
    drain_timeout_s: float = Field(default=240.0, gt=0)
    largest: int = Field(
        default=2, ge=1, description="hostile messages of the largest size a message may have"
    )

    @classmethod
    def short(cls) -> ChaosSize:
        return cls(messages=200, worker_kills=2, dispatcher_kills=1, redis_down_s=2.5,
                   drain_timeout_s=90.0, largest=1)  # fmt: skip


class Faults(BaseModel):
    """What a scenario's injector did: faults that verifiably happened, and when the last one
    did (``time.monotonic()``)."""

    model_config = ConfigDict(frozen=True)

    happened: int
    evidence: tuple[str, ...]
    last_at: float


Check = Callable[[Tally], list[str]]


class World:
    """``async with World(...) as world``: a Redis server on its own port and data directory,
    two workers and a dispatcher started against it; everything stopped on exit. A scenario
    starts its scene with :meth:`begin` and ends it with :meth:`finish`."""

    def __init__(
        self,
        *,
        setting: str,
        size: ChaosSize,
        workdir: Path,
        env: Mapping[str, str] = {},  # read only
        seed: int = 15,
        kills: bool = False,
    ) -> None:
        """``kills``: scenarios in this world kill processes, so entries a dead one held are
        reclaimed after ``size.claim_idle_ms`` (then a batch slower than that, one with a
        1,000,000-character message, is also taken over by the other worker and judged
        twice, committed once); else the default claim time (30 s) applies."""
        self.size = size
        self.workdir = workdir / setting
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.streams = Streams(namespace=f"chaos-{uuid.uuid4().hex[:6]}")
        self.server = RedisServer(data_dir=self.workdir / "redis")
        self.record = self.workdir / "performed.jsonl"
        self.model: HangingServer | None = None  # the model server, when the setting has one
        self.model_url = ""
        self.name = ""
        self.run = ""
        self.published: list[Published] = []
        self._retired_before = 0
        self._handled_before = 0
        self._env = {
            "MODTRIAGE_BLOCK_MS": "100",
            "MODTRIAGE_ENCODER_THREADS": "1",
            **({"MODTRIAGE_CLAIM_IDLE_MS": str(size.claim_idle_ms)} if kills else {}),
            **env,
        }
        self.redis: Redis
        self.cluster: Cluster

    async def __aenter__(self) -> World:
        self.server.start()
        self.redis = redis_client(self.server.url)
        self.cluster = Cluster(
            redis_url=self.server.url, namespace=self.streams.namespace, workdir=self.workdir,
            record=self.record, env=self._env,
        )  # fmt: skip
        try:
            # the groups the processes would create, made now so that faults can look at them
            await ensure_group(self.redis, self.streams.ingest, self.streams.group)
            await ensure_group(self.redis, self.streams.actions("console"), ADAPTER_GROUP)
            self.cluster.start_worker()
            self.cluster.start_worker()
            self.cluster.start_dispatcher()
            if not await self.until(self._ready, timeout_s=120.0):
                raise RuntimeError(f"the processes did not start; see the logs in {self.workdir}")
        except BaseException:
            await self.__aexit__(None, None, None)  # nothing started may outlive the run
            raise
        return self

    async def _ready(self) -> bool:
        """Every process has said it is ready, or one has died."""
        if crashed := self.cluster.crashed():
            raise RuntimeError(f"{crashed}; see the logs in {self.workdir}")
        return self.cluster.ready()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cluster.stop()
        await self.redis.aclose()
        self.server.stop()

    async def begin(self, name: str) -> None:
        """Start a scenario's scene: fresh message ids, nothing published yet."""
        self.name = name
        self.run = uuid.uuid4().hex[:6]
        self.published = []
        self._retired_before = len(self.cluster.retired)
        self._handled_before = await self.handled()

    async def publish(self, messages: Sequence[tuple[Kind, Message]]) -> None:
        self.published += await publish(self.redis, self.streams, messages)

    async def publish_conversation(self) -> None:
        await self.publish(conversation(self.size.messages, run=self.run))

    async def dead_reasons(self) -> list[str]:
        return await dead_reasons(self.redis, self.streams, self.published)

    async def until(self, predicate: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
        """Poll ``predicate`` until true (riding out a Redis outage); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if await predicate():
                    return True
            except (RedisError, OSError):
                pass
            await asyncio.sleep(0.05)
        return False

    async def handled(self) -> int:
        """Ingest entries decided or dead-lettered so far (a progress gauge, not the tally)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.streams.verdicts)
            pipe.xlen(self.streams.dead)
            verdicts, dead = await pipe.execute()
        return int(verdicts) + int(dead)

    async def scene_handled(self) -> int:
        """Entries handled since this scene began."""
        return await self.handled() - self._handled_before

    async def progressed(self, share: float, timeout_s: float = 60.0) -> None:
        """Until ``share`` of what this scene published has been handled."""
        goal = self._handled_before + int(len(self.published) * share)

        async def reached() -> bool:
            return await self.handled() >= goal

        await self.until(reached, timeout_s)

    async def finish(
        self, faults: Faults, *, planned: int, checks: Sequence[Check] = ()
    ) -> ScenarioResult:
        """Wait for the backlog to drain, count everything and say what went wrong."""

        async def empty() -> bool:
            return await drained(self.redis, self.streams)

        done = await self.until(empty, self.size.drain_timeout_s)
        recovery = time.monotonic() - faults.last_at if done else None
        await asyncio.sleep(0.3)  # anything still on its way would show up now
        crashed = tuple(self.cluster.crashed())
        killed = [p.popen.pid for p in self.cluster.retired[self._retired_before :]]
        counts = await tally(self.redis, self.streams, self.published, self.record, killed=killed)
        problems = []
        if not done:
            problems.append(f"the backlog did not drain in {self.size.drain_timeout_s:.0f} s")
        if counts.lost:
            problems.append(f"{counts.lost} entries lost ({', '.join(counts.lost_kinds)})")
        if counts.duplicated_actions:
            problems.append(
                f"{counts.duplicated_actions} actions performed twice: "
                f"{counts.duplicated_at_death} by a dispatcher just before it was killed and again"
                f" by its successor, {counts.duplicated_by_one_process} twice by one dispatcher "
                "across a Redis outage"
            )
        if counts.actions_undone:
            problems.append(f"{counts.actions_undone} actions neither performed nor dead-lettered")
        if counts.dead_without_reason:
            problems.append(f"{counts.dead_without_reason} dead letters without a reason")
        if faults.happened < planned:
            problems.append(f"only {faults.happened} of {planned} faults happened")
        problems += [f"{c} by itself" for c in crashed]
        for check in checks:
            problems += check(counts)
        return ScenarioResult(
            name=self.name, n=counts.n, lost=counts.lost,
            duplicated_actions=counts.duplicated_actions,
            duplicated_at_death=counts.duplicated_at_death,
            duplicated_by_one_process=counts.duplicated_by_one_process,
            dead_lettered=counts.dead_lettered,
            degraded=counts.degraded, recovery_s=None if recovery is None else round(recovery, 2),
            faults_planned=planned, faults=faults.happened, evidence=faults.evidence,
            slurs=counts.slurs, rules_acted=counts.slurs_acted,
            model_unavailable=counts.model_unavailable,
            actions_performed=counts.actions_performed, actions_undone=counts.actions_undone,
            dead_without_reason=counts.dead_without_reason, crashed=crashed,
            problems=tuple(problems),
        )  # fmt: skip
