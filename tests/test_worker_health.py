"""A worker as an orchestrator meets it: started before its Redis, probed on its metrics port
(``/healthz``, ``/readyz``), stopped with SIGTERM."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.chaos.redis_server import RedisServer
from bot.connection import redis_client
from bot.message import Author, Message
from bot.pipeline.ingest import Ingest
from bot.streams import Streams, decode_action
from tests.probes import ServiceProcess, free_port

SLUR = Message(
    platform="console", workspace="T1", channel="general", id="m1",
    author=Author(id="u1", name="troll42"), text="shut up you f4gg0t",
)  # fmt: skip


def _worker(redis_url: str, namespace: str, tmp_path: Path) -> ServiceProcess:
    return ServiceProcess(
        "worker",
        cwd=tmp_path,
        env={
            "REDIS_URL": redis_url,
            "MODTRIAGE_NAMESPACE": namespace,
            "MODTRIAGE_CLASSIFIER": "rules",
            "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
            "MODTRIAGE_BLOCK_MS": "50",
            "MODTRIAGE_WORKER_PROCESSES": "1",  # one process: its own metrics port
        },
    )


async def test_a_worker_started_before_redis_waits_says_why_then_decides(
    tmp_path: Path, namespace: str
) -> None:
    server = RedisServer(data_dir=tmp_path / "redis")  # its port: nothing listens there yet
    worker = _worker(server.url, namespace, tmp_path)
    client = redis_client(server.url)
    try:
        assert await worker.answers("/healthz", 200) == {"alive": True}
        await worker.logged("redis not answering yet, retrying")
        status, body = await worker.get("/readyz")
        assert status == 503
        assert list(body["waiting_for"]) == ["redis"]  # the model is loaded
        assert f"127.0.0.1:{server.port}" in body["waiting_for"]["redis"]  # refused there

        server.start()
        assert await worker.answers("/readyz", 200) == {"ready": True}
        streams = Streams(namespace=namespace)
        await Ingest(redis=client, streams=streams).publish(SLUR)
        async with asyncio.timeout(60):
            while not (entries := await client.xrange(streams.actions("console"))):
                await asyncio.sleep(0.05)
        actions = [decode_action(i.decode(), f) for i, f in entries]
        assert {"delete", "warn"} <= {a.type for a in actions}

        server.stop()  # Redis goes away under a running worker
        gone = await worker.answers("/readyz", 503)
        assert list(gone["waiting_for"]) == ["redis"]
        assert worker.stop() == 0
    finally:
        worker.stop()
        await client.aclose()
        server.stop()
    assert "Traceback" not in worker.stderr()


async def test_a_worker_stopped_while_it_waits_for_redis_exits_cleanly(
    tmp_path: Path, namespace: str
) -> None:
    worker = _worker(f"redis://127.0.0.1:{free_port()}/0", namespace, tmp_path)
    try:
        await worker.logged("redis not answering yet, retrying")
        assert (await worker.get("/readyz"))[0] == 503
    finally:
        code = worker.stop()
    assert code == 0
    assert "error:" not in worker.stderr()
