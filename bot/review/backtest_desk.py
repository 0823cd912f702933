"""The backtest desk: what a candidate policy would have done to the actor's own tenant's
recorded messages (``/mod backtest``), for its moderators. The candidate comes as a policy
file's text (a chat attachment) or as a stored policy version of the tenant."""

from __future__ import annotations

import asyncio
import re
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.errors import InvalidRequest, PolicyError
from bot.insights.backtest import BacktestReport, read_decisions, read_history
from bot.policy import FaqSettings, Policy, load_policy
from bot.review.actor import Actor
from bot.review.core import ServiceCore
from bot.stats import MAX_DAYS, day_of
from bot.tenant import Tenant

__all__ = ["MAX_POLICY_BYTES", "BacktestDesk"]

#: The largest candidate file accepted from chat.
MAX_POLICY_BYTES = 256 * 1024
#: The most recorded messages one chat backtest replays (the newest kept).
_LIMIT = 20_000
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _load(text: str, filename: str) -> Policy:
    """The candidate read as the policy loader reads a file (the error names ``filename``);
    FAQ answers off, as they cannot change a route."""
    name = _NAME.sub("_", Path(filename).name) or "candidate.yaml"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            raise InvalidRequest(f"{name}: {exc.key}: {exc.problem}. Fix: {exc.fix}") from exc
    return policy.model_copy(update={"faq": FaqSettings()})


class BacktestDesk(ServiceCore):
    async def backtest(
        self,
        actor: Actor,
        *,
        candidate: bytes | None = None,
        filename: str = "candidate.yaml",
        version: str | None = None,
        days: int = 30,
    ) -> BacktestReport:
        """The actor's tenant's messages decided in the last ``days`` UTC days, today included
        (at most the newest 20,000), judged again under the candidate: a policy file's bytes,
        or ``version``, the tenant's current policy version or one reloaded in it.

        Raises:
            PermissionDenied: the actor is not a moderator.
            InvalidRequest: backtests are not offered here, ``days`` is outside 1..MAX_DAYS,
                neither or both candidates are given, the file is too large or not UTF-8,
                the version is unknown to the tenant, or the file has a mistake (the policy
                loader's one-line error).
        """
        tenant = await self._require_moderator(actor, "backtest a policy")
        if self._backtest is None:
            raise InvalidRequest("backtests are not offered by this service")
        if not 1 <= days <= MAX_DAYS:
            raise InvalidRequest(f"a backtest covers 1 to {MAX_DAYS} days, not {days}")
        if (candidate is None) == (version is None):
            raise InvalidRequest("give the candidate policy: a file, or a stored version")
        if candidate is not None:
            if len(candidate) > MAX_POLICY_BYTES:
                raise InvalidRequest(f"a policy file is at most {MAX_POLICY_BYTES} bytes")
            try:
                text = candidate.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequest(f"{filename} is not UTF-8 text") from exc
            policy = await asyncio.to_thread(_load, text, filename)
        else:
            assert version is not None
            policy = await self._tenant_version(tenant, version.strip().strip("`"))
        current = await self._policies.current_one(tenant)
        since_day = day_of(self._clock()) - timedelta(days=days - 1)
        since = datetime.combine(since_day, time(), tzinfo=UTC)
        history = await read_history(self._redis, self._streams, tenant, since=since)
        history = history[-_LIMIT:]
        decisions = await read_decisions(self._redis, self._streams, tenant)
        return await self._backtest.run(
            history, policy, tenant=tenant, decisions=decisions, since=since, current=current
        )

    async def _tenant_version(self, tenant: Tenant, version: str) -> Policy:
        """A stored version the tenant used: its current one, or one reloaded in it (another
        tenant's versions are unknown here, as if they did not exist)."""
        unknown = InvalidRequest(f"no policy version {version!r} in this workspace")
        current = await self._policies.current_one(tenant)
        if version != current.version:
            entries: Any = await self._redis.xrange(self.keys.tenant(tenant).audit)
            reloaded = {
                _text(f.get(b"detail", b""))
                for _, f in entries
                if _text(f.get(b"op", b"")) == "policy_reload"
            }
            if version not in reloaded:
                raise unknown
        found = await self._policies.stored(version)
        if found is None:
            raise unknown
        return found.model_copy(update={"faq": FaqSettings()})
