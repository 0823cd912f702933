"""The chaos scenarios (issue 15): each publishes its messages into a world (Redis, workers,
a dispatcher), injects its fault, waits for the backlog to drain and counts, from Redis and
the adapter's record, what was lost or done twice.

- ``worker-sigkill``: a worker SIGKILLed holding a batch it read but did not commit, several
  times, a new one started each time;
- ``redis-sigkill``: the Redis server SIGKILLed mid-run and started again on its AOF;
- ``model-down`` / ``model-hang``: the served model (``MODTRIAGE_CLASSIFIER=vllm``) on a closed
  port, or on a server that accepts and never answers; the embedded model answers, degraded;
- ``classifier-timeout``: the model hangs longer than ``MODTRIAGE_MODEL_TIMEOUT_S``: the
  rules decide alone;
- ``hostile-input``: messages that once stalled a worker, and garbage written straight onto
  the ingest stream, which must be dead-lettered with reasons;
- ``dispatcher-sigkill``: the adapter process SIGKILLed holding actions it read but did not
  finish; its successor (a new consumer name) reclaims them.

For the model scenarios the fault lasts the whole run, so ``recovery_s`` is the time from the
first message published to the backlog drained, with the model down throughout.

Scenarios that need the same settings (a *setting*: the model the workers use, how soon a dead
process's entries are reclaimed) run one after another in one world, each counted on its own
messages; the processes and Redis a scenario killed and restarted carry on into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bot.chaos.faults import (
    FaultMissed,
    HangingServer,
    closed_port_url,
    held_by,
    kill_holding,
    wait_answering,
)
from bot.chaos.report import ChaosReport, ScenarioResult
from bot.chaos.tally import ADAPTER_GROUP, Tally
from bot.chaos.traffic import conversation, garbage, hostile, write_raw
from bot.chaos.world import ChaosSize, Faults, World

__all__ = ["SCENARIOS", "run_chaos"]

Setting = Callable[[ChaosSize, Path], contextlib.AbstractAsyncContextManager[World]]


@dataclass(frozen=True)
class Scenario:
    """A scenario: the setting it needs and what it does in a world of that setting."""

    setting: Setting
    run: Callable[[World], Awaitable[ScenarioResult]]


# The served model on every message, the embedded one answering (degraded) when it cannot.
_VLLM = {
    "MODTRIAGE_CLASSIFIER": "vllm",
    "MODTRIAGE_VLLM_CASCADE": "every",
    "MODTRIAGE_VLLM_FALLBACK": "embedded",
    "MODTRIAGE_VLLM_RETRIES": "1",
}


async def _kill_repeatedly(
    world: World, *, stream: str, group: str, kills: int, dispatcher: bool
) -> Faults:
    """Kill a worker (or the dispatcher) ``kills`` times while it holds entries of ``stream``,
    starting a new one after each kill; the kills are spread over the backlog."""
    evidence: list[str] = []
    happened, attempts, last = 0, 0, time.monotonic()
    while happened < kills and attempts < kills * 3:
        attempts += 1
        await world.progressed(happened / (kills + 1))
        cluster = world.cluster
        candidates = [cluster.dispatcher] if dispatcher and cluster.dispatcher else cluster.workers
        try:
            victim, held = await kill_holding(
                candidates, redis=world.redis, stream=stream, group=group, rng=world.rng
            )
        except FaultMissed as exc:
            evidence.append(f"missed: {exc}")
            continue
        last = time.monotonic()
        if dispatcher:
            cluster.replace_dispatcher()
        else:
            cluster.replace_worker(victim)
        what = "actions read, not done" if dispatcher else "entries read, not committed"
        if held:
            happened += 1
            evidence.append(f"{victim.role} {victim.popen.pid} SIGKILLed holding {held} {what}")
        else:
            evidence.append(f"{victim.role} {victim.popen.pid} SIGKILLed holding nothing")
    return Faults(happened=happened, evidence=tuple(evidence), last_at=last)


async def _reclaimed(world: World, stream: str, group: str, consumers: Iterable[str]) -> list[str]:
    """Problems: a killed consumer that still holds entries after the drain."""
    out = []
    for consumer in consumers:
        if left := await held_by(world.redis, stream, group, consumer):
            out.append(f"{consumer} still holds {left} entries: never reclaimed")
    return out


async def worker_sigkill(world: World) -> ScenarioResult:
    await world.begin("worker-sigkill")
    await world.publish_conversation()
    streams, kills = world.streams, world.size.worker_kills
    faults = await _kill_repeatedly(
        world, stream=streams.ingest, group=streams.group, kills=kills, dispatcher=False
    )
    result = await world.finish(faults, planned=kills)
    left = await _reclaimed(
        world, streams.ingest, streams.group, (p.consumer for p in world.cluster.retired)
    )
    return result.model_copy(update={"problems": (*result.problems, *left)})


async def dispatcher_sigkill(world: World) -> ScenarioResult:
    await world.begin("dispatcher-sigkill")
    await world.publish_conversation()
    stream, kills = world.streams.actions("console"), world.size.dispatcher_kills
    faults = await _kill_repeatedly(
        world, stream=stream, group=ADAPTER_GROUP, kills=kills, dispatcher=True
    )
    result = await world.finish(faults, planned=kills)
    left = await _reclaimed(
        world, stream, ADAPTER_GROUP, (p.consumer for p in world.cluster.retired)
    )
    return result.model_copy(update={"problems": (*result.problems, *left)})


async def redis_sigkill(world: World) -> ScenarioResult:
    await world.begin("redis-sigkill")
    await world.publish_conversation()
    await world.progressed(0.3)
    before = await world.scene_handled()
    code = world.server.kill()
    at = time.monotonic()
    await asyncio.sleep(world.size.redis_down_s)
    world.server.start()
    await wait_answering(world.redis)
    after = await world.scene_handled()  # read back from the AOF before the workers add much
    happened = int(code == -9 and before < len(world.published) and after >= before)
    evidence = (
        f"redis-server SIGKILLed (exit {code}) mid-run, down {time.monotonic() - at:.1f} s; "
        f"restarted from its AOF with all {before} entries handled before the kill",
    )
    faults = Faults(happened=happened, evidence=evidence, last_at=at)
    return await world.finish(faults, planned=1)


def _refused(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 0), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def _model_missed(counts: Tally) -> list[str]:
    if not counts.degraded:
        return ["no verdict is degraded: the model outage never reached the workers"]
    return []


def _rules_acted(counts: Tally) -> list[str]:
    if counts.slurs_acted < counts.slurs:
        return [f"only {counts.slurs_acted}/{counts.slurs} deny-listed slurs were acted on"]
    return []


def _rules_alone(counts: Tally) -> list[str]:
    if not counts.model_unavailable:
        return ["no verdict says the model was unavailable: the timeout never fired"]
    return []


async def model_down(world: World) -> ScenarioResult:
    await world.begin("model-down")
    at = time.monotonic()
    await world.publish_conversation()
    url = world.model_url
    refused = _refused(url)
    faults = Faults(
        happened=int(refused),
        evidence=(f"model server {url}: " + ("connection refused" if refused else "answers"),),
        last_at=at,
    )
    return await world.finish(faults, planned=1, checks=(_model_missed, _rules_acted))


async def model_hang(world: World) -> ScenarioResult:
    await world.begin("model-hang")
    at = time.monotonic()
    await world.publish_conversation()
    result = await world.finish(
        Faults(happened=0, evidence=(), last_at=at), planned=0,
        checks=(_model_missed, _rules_acted),
    )  # fmt: skip
    return _asked(result, world, "never answered (0.5 s client timeout)")


async def classifier_timeout(world: World) -> ScenarioResult:
    await world.begin("classifier-timeout")
    at = time.monotonic()
    await world.publish_conversation()
    result = await world.finish(
        Faults(happened=0, evidence=(), last_at=at), planned=0,
        checks=(_model_missed, _rules_acted, _rules_alone),
    )  # fmt: skip
    return _asked(result, world, "never answered (0.3 s MODTRIAGE_MODEL_TIMEOUT_S)")


def _asked(result: ScenarioResult, world: World, how: str) -> ScenarioResult:
    """The hanging server's own count is the evidence that the model was asked."""
    model = world.model
    assert model is not None  # the setting of these scenarios has one
    problems = result.problems
    if not model.connections:
        problems = (*problems, "the hanging model server was never asked")
    return result.model_copy(
        update={
            "faults_planned": 1,
            "faults": int(model.connections > 0),
            "evidence": (f"model server {model.url}: {model.connections} connections, {how}",),
            "problems": problems,
        }
    )


async def hostile_input(world: World) -> ScenarioResult:
    await world.begin("hostile-input")
    at = time.monotonic()
    ordinary = conversation(world.size.messages, run=world.run)
    mean = hostile(run=world.run, first=world.size.messages, largest=world.size.largest)
    half = len(ordinary) // 2
    await world.publish(ordinary[:half])
    await world.publish(mean)
    junk = await write_raw(world.redis, world.streams, garbage(run=world.run))
    world.published += junk
    await world.publish(ordinary[half:])
    planned = len(mean) + len(junk)

    def dead_letters(counts: Tally) -> list[str]:
        problems = []
        if counts.dead_by_kind.get("garbage", 0) != len(junk):
            got = counts.dead_by_kind.get("garbage", 0)
            problems.append(f"{got} of {len(junk)} garbage entries dead-lettered")
        wrong = {k: v for k, v in counts.dead_by_kind.items() if k != "garbage"}
        if wrong:
            problems.append(f"valid messages dead-lettered: {wrong}")
        return problems

    faults = Faults(
        happened=planned,
        evidence=(f"{len(mean)} hostile messages and {len(junk)} garbage entries written",),
        last_at=at,
    )
    result = await world.finish(faults, planned=planned, checks=(dead_letters, _rules_acted))
    reasons = await world.dead_reasons()
    return result.model_copy(update={"evidence": (*result.evidence, *reasons)})


@contextlib.asynccontextmanager
async def embedded(size: ChaosSize, workdir: Path) -> AsyncIterator[World]:
    """The default model in every worker; a dead process's entries reclaimed after
    ``size.claim_idle_ms``."""
    async with World(setting="embedded", size=size, workdir=workdir, kills=True) as world:
        yield world


@contextlib.asynccontextmanager
async def refused_model(size: ChaosSize, workdir: Path) -> AsyncIterator[World]:
    """The served model on a port nobody listens on."""
    url = closed_port_url()
    env = {**_VLLM, "MODTRIAGE_VLLM_URL": url}
    async with World(setting="model-down", size=size, workdir=workdir, env=env) as world:
        world.model_url = url
        yield world


@contextlib.asynccontextmanager
async def hanging_model(
    size: ChaosSize, workdir: Path, *, name: str, env: dict[str, str]
) -> AsyncIterator[World]:
    async with HangingServer() as model:
        settings = {**_VLLM, "MODTRIAGE_VLLM_URL": model.url, **env}
        async with World(setting=name, size=size, workdir=workdir, env=settings) as world:
            world.model, world.model_url = model, model.url
            yield world


def _hanging(name: str, env: dict[str, str]) -> Setting:
    def setting(size: ChaosSize, workdir: Path) -> contextlib.AbstractAsyncContextManager[World]:
        return hanging_model(size, workdir, name=name, env=env)

    return setting


# A hanging server, and the HTTP client gives up first (the cascade falls back, degraded) ...
slow_model = _hanging("model-hang", {"MODTRIAGE_VLLM_TIMEOUT_S": "0.5"})
# ... or the classify stage's own timeout fires first (the rules decide alone).
timed_out_model = _hanging(
    "classifier-timeout", {"MODTRIAGE_VLLM_TIMEOUT_S": "30", "MODTRIAGE_MODEL_TIMEOUT_S": "0.3"}
)

SCENARIOS: dict[str, Scenario] = {
    "worker-sigkill": Scenario(embedded, worker_sigkill),
    "dispatcher-sigkill": Scenario(embedded, dispatcher_sigkill),
    "redis-sigkill": Scenario(embedded, redis_sigkill),
    "hostile-input": Scenario(embedded, hostile_input),
    "model-down": Scenario(refused_model, model_down),
    "model-hang": Scenario(slow_model, model_hang),
    "classifier-timeout": Scenario(timed_out_model, classifier_timeout),
}


async def run_chaos(
    *, size: ChaosSize, workdir: Path, names: Iterable[str] | None = None
) -> ChaosReport:
    """Run the named scenarios (all by default), in the order of :data:`SCENARIOS`; those
    next to each other that need the same setting share one world.

    Raises:
        KeyError: a name that is not a scenario.
    """
    chosen = set(names) if names is not None else set(SCENARIOS)
    if unknown := chosen - SCENARIOS.keys():
        raise KeyError(f"no such scenario: {sorted(unknown)}")
    plan = [SCENARIOS[name] for name in SCENARIOS if name in chosen]
    results: list[ScenarioResult] = []
    for setting, group in itertools.groupby(plan, key=lambda scenario: scenario.setting):
        async with setting(size, workdir) as world:
            for scenario in group:
                results.append(await scenario.run(world))
    return ChaosReport(scenarios=tuple(results))
