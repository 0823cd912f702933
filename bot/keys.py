"""Every Redis key name modtriage uses, in one place.

All keys sit under one namespace hash tag, ``{ns}`` (``{modtriage}`` by default), so they share
one Redis Cluster slot and each Lua commit may touch any of them. Layout::

    {ns}:ingest, :verdicts, :dead           streams: messages in, decisions, dead letters
    {ns}:actions:<platform>                 stream: actions for one adapter
    {ns}:done:<action id>                   set once an adapter performed the action
    {ns}:inflight:<action id>               set while an adapter performs it
    {ns}:attempts                           hash: action id -> attempts (the dispatcher)
    {ns}:due:<platform>, :due-action:<platform>   zset and hash: actions held until a time
                                            (a temporary ban's unban, a Slack timeout's return)
    {ns}:errors                             hash: ingest entry id -> last error (the worker)
    {ns}:verdict:<message key>              hash: verdict, message (the worker's commit)
    {ns}:rate:<kind>:…                      sorted sets behind flood and duplicate rules
    {ns}:recent:<platform>:<ws>:<channel>…  the last messages of a channel or thread
    {ns}:escalation:<message key>           what left the machine for a message, and came back
    {ns}:frontier:cache|inflight:<digest>   frontier answers, and the request in flight
    {ns}:frontier:spend:day|month:<date>    frontier spending
    {ns}:faq:…                              FAQ channel switches, cooldowns, feedback
    {ns}:case-seq                           counter behind the short numeric case ids
    {ns}:case:<id>, :case:<id>:events|actions   one case (its doc names its tenant)
    {ns}:case-for:<dedupe>, :case-by-message:<key>
    {ns}:cases                              zset of every case, by opening time
    {ns}:tenants                            set of tenants that have cases ("slack:T0…")
    {ns}:policy:doc:<version>               one policy version, as JSON (content-addressed)
    {ns}:policy:default                     hash: the default policy's current version, by, at
    {ns}:tenant:<platform>:<workspace>:…    one tenant's review state (TenantKeys)
    {ns}:raids                              zset: tenants in raid mode, by when it ends (bot.raid)

A tenant's review state (:class:`TenantKeys`): ``queue``, ``cases:status:<s>``,
``cases:user:<uid>``, ``cases:channel:<c>``, ``strikes:<uid>``, ``strike-points:<uid>``,
``labels``, ``stats:<UTC day>``, ``scores:<UTC day>`` (model scores by category and bin, and
routes by category, for the drift alarm), ``shadow`` (run-time switches: shadow mode, and
``exempt:<channel>``), ``faq`` (FAQ answers switched per channel),
``faq-asked`` (stream: questions the FAQ stage handed off, and replies in their threads,
redacted, kept ``faq.keep_questions_days``; :mod:`bot.faq.handoffs`), ``faq-thread:<thread>``
(set while a handed-off question's thread collects replies), ``faq-suggestions``
(hash: suggestion id -> the FAQ entry ``faq suggest`` proposed, until accepted or replaced),
``audit``, ``raid:state|joins|young|newcomers|first:<uid>`` (raid mode, :mod:`bot.raid`),
``incident:<channel>:<uid>``, ``notes:<uid>`` (moderators' staff-only notes on a
member), ``alerts`` (hash: the moderators' channel and role set from chat, by, at), and ``policy``
(hash: the current version of the tenant's own policy file, by, at; a tenant without one
follows ``{ns}:policy:default``).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from bot.message import Message
from bot.tenant import Tenant

__all__ = ["CaseKeys", "FaqKeys", "Streams", "TenantKeys"]


class Streams(BaseModel):
    """Names under one namespace. The ``{namespace}`` hash tag keeps every key in one Redis
    Cluster slot, so the worker's commit script may touch them together."""

    model_config = ConfigDict(frozen=True)

    namespace: str = "modtriage"
    group: str = "workers"

    @property
    def prefix(self) -> str:
        return "{" + self.namespace + "}"

    @property
    def ingest(self) -> str:
        return f"{self.prefix}:ingest"

    @property
    def verdicts(self) -> str:
        return f"{self.prefix}:verdicts"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def errors(self) -> str:
        return f"{self.prefix}:errors"

    @property
    def attempts(self) -> str:
        return f"{self.prefix}:attempts"

    def actions(self, platform: str) -> str:
        return f"{self.prefix}:actions:{platform}"

    def done(self, action_id: str) -> str:
        """Set by the action dispatcher once an adapter performed the action."""
        return f"{self.prefix}:done:{action_id}"

    def inflight(self, action_id: str) -> str:
        """Set by the action dispatcher before an adapter performs the action."""
        return f"{self.prefix}:inflight:{action_id}"

    def due(self, platform: str) -> str:
        """Sorted set: ids of actions held until their time (the score), per platform."""
        return f"{self.prefix}:due:{platform}"

    def due_actions(self, platform: str) -> str:
        """Hash: id -> Action JSON of the actions in :meth:`due`."""
        return f"{self.prefix}:due-action:{platform}"

    def verdict_key(self, message_key: str) -> str:
        return f"{self.prefix}:verdict:{message_key}"

    def counter(self, kind: str, *parts: str) -> str:
        return ":".join((self.prefix, "rate", kind, *parts))

    def recent(self, *where: str) -> str:
        """The last messages of a channel or thread (escalation context)."""
        return ":".join((self.prefix, "recent", *where))

    def escalation(self, message_key: str) -> str:
        return f"{self.prefix}:escalation:{message_key}"

    def frontier_cache(self, digest: str) -> str:
        return f"{self.prefix}:frontier:cache:{digest}"

    def frontier_inflight(self, digest: str) -> str:
        return f"{self.prefix}:frontier:inflight:{digest}"

    def frontier_spend(self, period: str, when: str) -> str:
        """``period`` is ``day`` or ``month``; ``when`` its date."""
        return f"{self.prefix}:frontier:spend:{period}:{when}"

    def tenant(self, tenant: Tenant) -> TenantKeys:
        return TenantKeys(prefix=self.prefix, tenant=tenant)

    @property
    def raids(self) -> str:
        """Sorted set: tenants in raid mode (``slack:T0…``), scored by when it ends if quiet."""
        return f"{self.prefix}:raids"

    @property
    def policy_default(self) -> str:
        """Hash: the default policy's current version (tenants without their own file)."""
        return f"{self.prefix}:policy:default"

    def policy_doc(self, version: str) -> str:
        """One policy version as JSON; the version is the file's content hash."""
        return f"{self.prefix}:policy:doc:{version}"


class TenantKeys:
    """One tenant's review state."""

    def __init__(self, *, prefix: str, tenant: Tenant) -> None:
        self.tenant = tenant
        base = f"{prefix}:tenant:{tenant.platform}:{tenant.workspace}"
        self._base = base
        self.queue = f"{base}:queue"
        self.labels = f"{base}:labels"
        self.shadow = f"{base}:shadow"
        self.audit = f"{base}:audit"
        self.policy = f"{base}:policy"
        self.faq_channels = f"{base}:faq"
        self.alerts = f"{base}:alerts"
        self.faq_asked = f"{base}:faq-asked"
        self.faq_suggestions = f"{base}:faq-suggestions"

    def faq_thread(self, thread: str) -> str:
        """Set while the thread of a handed-off question collects replies (draft answers). By
        the thread's id alone: a Discord thread is a channel of its own, whose id is the
        message it was opened on."""
        return f"{self._base}:faq-thread:{thread}"

    def stats(self, day: date) -> str:
        """Hash: the tenant's counters for one UTC day (field names: :mod:`bot.stats`)."""
        return f"{self._base}:stats:{day.isoformat()}"

    def scores(self, day: date) -> str:
        """Hash: the day's model scores per category and bin, and routes per category (field
        names: :mod:`bot.insights.drift`)."""
        return f"{self._base}:scores:{day.isoformat()}"

    def status(self, status: str) -> str:
        return f"{self._base}:cases:status:{status}"

    def user(self, user_id: str) -> str:
        return f"{self._base}:cases:user:{user_id}"

    def channel(self, channel: str) -> str:
        return f"{self._base}:cases:channel:{channel}"

    def strikes(self, user_id: str) -> str:
        return f"{self._base}:strikes:{user_id}"

    def notes(self, user_id: str) -> str:
        """List: moderators' staff-only notes on a member (JSON, oldest first)."""
        return f"{self._base}:notes:{user_id}"

    def strike_points(self, user_id: str) -> str:
        return f"{self._base}:strike-points:{user_id}"

    def raid(self, part: str) -> str:
        """Raid mode's state (:mod:`bot.raid`): ``state``, ``joins``, ``young``,
        ``newcomers`` and ``first:<uid>``."""
        return f"{self._base}:raid:{part}"

    def incident(self, channel: str, user_id: str) -> str:
        """Hash: the case an author's incident in a channel has open, and its latest message's
        time (the worker's commit)."""
        return f"{self._base}:incident:{channel}:{user_id}"


class CaseKeys:
    """Key names for cases under one namespace; per-tenant indexes via :meth:`tenant`."""

    def __init__(self, streams: Streams) -> None:
        self.prefix = streams.prefix
        self.streams = streams
        self.seq = f"{self.prefix}:case-seq"
        self.all = f"{self.prefix}:cases"
        self.tenants = f"{self.prefix}:tenants"

    def tenant(self, tenant: Tenant) -> TenantKeys:
        return self.streams.tenant(tenant)

    def case(self, case_id: str) -> str:
        return f"{self.prefix}:case:{case_id}"

    def events(self, case_id: str) -> str:
        return f"{self.prefix}:case:{case_id}:events"

    def actions(self, case_id: str) -> str:
        return f"{self.prefix}:case:{case_id}:actions"

    def dedupe(self, token: str) -> str:
        return f"{self.prefix}:case-for:{token}"

    def by_message(self, message_key: str) -> str:
        return f"{self.prefix}:case-by-message:{message_key}"


class FaqKeys:
    """FAQ state under one namespace."""

    def __init__(self, streams: Streams) -> None:
        self.prefix = f"{streams.prefix}:faq"
        self.channels = f"{self.prefix}:channels"
        self.feedback = f"{self.prefix}:feedback"

    def said(self, message: Message, faq_id: str) -> str:
        """The thread a message belongs to (itself when it starts one) and the entry."""
        thread = message.thread or message.id
        where = f"{message.platform}:{message.workspace}:{message.channel}:{thread}"
        return f"{self.prefix}:said:{where}:{faq_id}"

    def votes(self, answer: str) -> str:
        return f"{self.prefix}:votes:{answer}"
