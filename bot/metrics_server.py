"""The metrics port (``MODTRIAGE_METRICS_PORT``) of workers and adapters.

``/metrics``
    Prometheus text (or OpenMetrics, by the ``Accept`` header), from ``prometheus_client``.
``/healthz``
    200 while the process runs (liveness: the event loop answers).
``/readyz``
    200 ``{"ready": true}`` when every part of the process's :class:`~bot.health.Health` is
    ready, else 503 ``{"ready": false, "waiting_for": {"redis": "<why>", ...}}`` (readiness:
    send it work, or not).

Served by aiohttp in the process's own event loop, so readiness checks use its Redis client.
"""

from __future__ import annotations

from types import TracebackType

import structlog
from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from bot.health import Health

__all__ = ["MetricsServer"]

log = structlog.get_logger(__name__)


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` while in ``async with``.

    Raises:
        OSError: the port cannot be bound (on entering).
    """

    def __init__(
        self,
        *,
        health: Health,
        host: str,
        port: int,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.health = health
        self.host = host
        self.port = port
        self._registry = registry
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)  # scraped every few seconds

    async def __aenter__(self) -> MetricsServer:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("metrics listening", host=self.host, port=self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(self._registry), headers={"Content-Type": content_type})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        problems = await self.health.problems()
        if problems:
            return web.json_response({"ready": False, "waiting_for": problems}, status=503)
        return web.json_response({"ready": True})
