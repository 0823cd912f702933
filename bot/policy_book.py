"""The current policy of every tenant, versioned in Redis: policy by reference, not by copy.

A policy version is its file's content hash. Each version is stored once as JSON
(``{ns}:policy:doc:<version>``); which version is current is a small hash per source: the
tenant's own (``{ns}:tenant:<platform>:<workspace>:policy``) for a tenant with its own file,
else the default's (``{ns}:policy:default``). Workers, the moderation service and the escalate
stage ask the book for a tenant's policy per batch (one round trip for the pointers; a version
is fetched and validated once per process), so ``/mod policy reload`` reaches every running
process at its next batch. Until anything is published, a process uses the policies it read
from its own files; a process that starts publishes them (a start-up is a reload).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
import structlog

from bot.keys import Streams
from bot.policy import Policy
from bot.policy_sources import PolicySources, load_policy_sources
from bot.tenant import Tenant

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = ["PolicyBook"]

log = structlog.get_logger(__name__)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PolicyBook:
    """Collaborators keyword-only: Redis (None: a process without Redis keeps its own
    policies), the key names, the default policy and where policies come from; ``own`` are
    the tenants' own policies already read (:meth:`PolicySources.load_own`)."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis | None,
        streams: Streams,
        default: Policy,
        sources: PolicySources | None = None,
        own: Mapping[Tenant, Policy] | None = None,
    ) -> None:
        self._redis = redis
        self._streams = streams
        self._sources = sources or PolicySources()
        self._default = default
        self._own = dict(own or {})
        missing = set(self._sources.own) - set(self._own)
        if missing:
            raise ValueError(f"own policies not read for {sorted(map(str, missing))}")
        self._versions: dict[str, Policy] = {default.version: default}
        self._versions.update({p.version: p for p in self._own.values()})
        self._latest: dict[Tenant, Policy] = {}

    @classmethod
    def from_settings(
        cls, *, redis: aioredis.Redis | None, settings: Settings, default: Policy
    ) -> PolicyBook:
        """The book of the settings' tenants file (``MODTRIAGE_TENANTS``), its policies read.

        Raises:
            PolicyError: the tenants file or a policy it names has a mistake.
        """
        sources = load_policy_sources(
            settings.tenants_file, default=settings.policy, served=settings.tenants
        )
        return cls(
            redis=redis,
            streams=settings.streams(),
            default=default,
            sources=sources,
            own=sources.load_own(),
        )

    @property
    def default(self) -> Policy:
        return self._default

    @property
    def read(self) -> list[Policy]:
        """The policies this process read from its files: the default, then the tenants'."""
        return [self._default, *self._own.values()]

    def path_for(self, tenant: Tenant) -> Path | None:
        """The file a reload of the tenant's policy reads."""
        return self._sources.path_for(tenant)

    def has_own(self, tenant: Tenant) -> bool:
        return self._sources.has_own(tenant)

    def _pointer(self, tenant: Tenant) -> str:
        if self._sources.has_own(tenant):
            return self._streams.tenant(tenant).policy
        return self._streams.policy_default

    def _local(self, tenant: Tenant) -> Policy:
        return self._own.get(tenant, self._default)

    def latest(self, tenant: Tenant) -> Policy:
        """The tenant's policy as last read (without a round trip)."""
        return self._latest.get(tenant) or self._local(tenant)

    async def current(self, tenants: Iterable[Tenant]) -> dict[Tenant, Policy]:
        """Each tenant's current policy, read now (once per batch).

        Raises:
            RedisError: Redis cannot answer (the batch stays pending).
        """
        wanted = list(dict.fromkeys(tenants))
        if self._redis is None or not wanted:
            return {t: self._local(t) for t in wanted}
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant in wanted:
                pipe.hget(self._pointer(tenant), "version")
            versions: list[Any] = await pipe.execute()
        found: dict[Tenant, Policy] = {}
        for tenant, raw in zip(wanted, versions, strict=True):
            policy = await self._version(_text(raw)) if raw else None
            found[tenant] = policy or self._local(tenant)
        self._latest.update(found)
        return found

    async def current_one(self, tenant: Tenant) -> Policy:
        """One tenant's current policy, read now."""
        return (await self.current([tenant]))[tenant]

    async def stored(self, version: str) -> Policy | None:
        """A stored policy version, by content hash (None: unknown).

        Raises:
            RedisError: Redis cannot answer.
        """
        return await self._version(version)

    async def _version(self, version: str) -> Policy | None:
        known = self._versions.get(version)
        if known is not None or self._redis is None:
            return known
        doc = await self._redis.get(self._streams.policy_doc(version))
        if doc is None:
            log.error("current policy version has no document", version=version)
            return None
        policy = Policy.model_validate_json(doc)
        self._versions[version] = policy
        log.info("policy version picked up", version=version, name=policy.name)
        return policy

    async def publish(self, tenant: Tenant, policy: Policy, *, by: str, at: datetime) -> None:
        """Make ``policy`` the current one for the tenant's source (its own file, or the
        default for every tenant without one), with an audit entry in the tenant's stream.

        Raises:
            RedisError: nothing was published.
        """
        if self._redis is None:
            raise RuntimeError("a policy book without Redis cannot publish")
        self._versions[policy.version] = policy
        keys = self._streams.tenant(tenant)
        # The document first: a pointer never names a version that is not stored. Pointer and
        # audit may sit in different cluster slots (the default pointer is shared): no MULTI.
        await self._redis.set(self._streams.policy_doc(policy.version), policy.model_dump_json())
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(
                self._pointer(tenant),
                mapping={"version": policy.version, "by": by, "at": at.isoformat()},
            )
            pipe.xadd(keys.audit, {"actor": by, "op": "policy_reload", "detail": policy.version})
            await pipe.execute()
        if self._sources.has_own(tenant):
            self._latest[tenant] = policy
        else:
            self._default = policy
            for known in [t for t in self._latest if not self._sources.has_own(t)]:
                self._latest[known] = policy

    async def publish_files(self, *, by: str, at: datetime) -> None:
        """Publish the policies this process read from its files (at start-up), so every
        process moderates with them.

        Raises:
            RedisError: nothing was published.
        """
        if self._redis is None:
            return
        published = [(None, self._default), *self._own.items()]
        # The documents first, then the pointers (shared and per tenant: several cluster slots)
        async with self._redis.pipeline(transaction=False) as pipe:
            for _, policy in published:
                pipe.set(self._streams.policy_doc(policy.version), policy.model_dump_json())
            await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant, policy in published:
                pointer = self._streams.policy_default
                if tenant is not None:
                    pointer = self._streams.tenant(tenant).policy
                pipe.hset(
                    pointer, mapping={"version": policy.version, "by": by, "at": at.isoformat()}
                )
            await pipe.execute()
