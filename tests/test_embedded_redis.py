"""The embedded Redis is shared by every process on one data directory: a `modtriage queue`
run during a worker's run joins the worker's server and leaves it running when it exits."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.connection import EmbeddedRedis

# What a second CLI process does on the same data directory: join, use, exit.
SECOND_PROCESS = """
import sys
from pathlib import Path
import redis
from bot.connection import EmbeddedRedis
server = EmbeddedRedis(data_dir=Path(sys.argv[1]))
url = server.start()
client = redis.Redis.from_url(url)
print(client.get("case:7").decode())
client.close()
server.stop()
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    yield path
    socket = path / "redis.sock"
    if socket.exists():  # whatever a failed test left running
        with contextlib.suppress(redis.RedisError):
            redis.Redis(unix_socket_path=str(socket)).shutdown(nosave=True)


def test_a_process_that_joined_the_server_leaves_it_running_when_it_exits(
    data_dir: Path,
) -> None:
    first = EmbeddedRedis(data_dir=data_dir)
    url = first.start()
    assert url == f"unix://{data_dir.resolve() / 'redis.sock'}"
    worker = redis.Redis.from_url(url)
    worker.set("case:7", "open")

    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(data_dir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "open"

    assert worker.ping()  # the worker's server is still there
    worker.set("case:8", "open")
    assert worker.get("case:7") == b"open"

    first.stop()  # the worker's own connection is still open: the server stays
    assert worker.ping()
    worker.close()


def test_the_starter_stops_the_server_when_no_client_remains(data_dir: Path) -> None:
    first = EmbeddedRedis(data_dir=data_dir)
    url = first.start()
    client = redis.Redis.from_url(url)
    client.set("strikes:u1", "3")
    client.close()
    first.stop()
    assert not (data_dir / "redis.sock").exists()

    again = EmbeddedRedis(data_dir=data_dir)
    client = redis.Redis.from_url(again.start())
    assert client.get("strikes:u1") == b"3"  # kept across restarts
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    client.close()
    again.stop()
    assert not (data_dir / "redis.sock").exists()
