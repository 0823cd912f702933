"""The adapters' side of the ingest stream."""

from __future__ import annotations

from collections.abc import Collection

import redis.asyncio as aioredis
import structlog

from bot.message import Message
from bot.streams import Streams, encode_message
from bot.tenant import Tenant
from bot.trim import Trimmer

__all__ = ["Ingest"]

log = structlog.get_logger(__name__)


class Ingest:
    """Appends normalised messages to the ingest stream. Never waits on a model.

    ``tenants`` are the communities this deployment serves (``MODTRIAGE_WORKSPACES``); a
    message from anywhere else is not moderated, and said so once per tenant in the log.
    Empty: every tenant is served.

    Each message goes to its tenant's partition's stream (:mod:`bot.keys`), so one channel's
    messages stay in order on one stream. Each stream is kept near ``maxlen`` entries by a
    :class:`~bot.trim.Trimmer` (after every ``trim_every`` publishes, or ``trim_interval_s``),
    never past an entry the workers' consumer
    group has not acknowledged: with the workers down the stream grows instead of losing
    messages.
    """

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        streams: Streams,
        maxlen: int = 100_000,
        tenants: Collection[Tenant] = (),
        trim_every: int = 1_000,
        trim_interval_s: float = 5.0,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._trimmers = [
            Trimmer(
                redis=redis,
                stream=part.ingest,
                cap=maxlen,
                every=trim_every,
                interval_s=trim_interval_s,
            )
            for part in streams.every_partition()
        ]
        self._tenants = frozenset(tenants)
        self._refused: set[Tenant] = set()

    def serves(self, tenant: Tenant) -> bool:
        return not self._tenants or tenant in self._tenants

    async def publish(self, message: Message) -> str | None:
        """Returns the stream entry id, or None for a message of a tenant not served.
        Raises redis errors when Redis is unreachable."""
        tenant = Tenant.of(message)
        if not self.serves(tenant):
            if tenant not in self._refused:
                self._refused.add(tenant)
                log.warning(
                    "not a tenant this deployment serves: its messages are not moderated "
                    "(add it to MODTRIAGE_WORKSPACES)",
                    tenant=str(tenant),
                )
            return None
        partition = self._streams.partition_of(tenant)
        entry_id = await self._redis.xadd(
            self._trimmers[partition].stream,
            encode_message(message),  # type: ignore[arg-type]
        )
        await self._trimmers[partition].tick(1)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
