"""Every Redis key name modtriage uses, in one place.

Keys sit under a namespace hash tag, ``{ns}`` (``{modtriage}`` by default). With one partition
(the default) every key shares that one tag, so one Redis Cluster slot. With P partitions
(``MODTRIAGE_PARTITIONS``), each tenant belongs to one, ``crc32("<platform>:<workspace>") % P``,
and everything its messages touch together (the ingest, verdict, dead-letter and action
streams, decisions, cases, its review state) sits under the partition's tag ``{ns:k}``: one
slot a partition, so each Lua commit stays in one slot while a cluster spreads the partitions
over its nodes. What is shared by all tenants stays under ``{ns}``: policy documents and the
default pointer, the frontier model's cache and spending. A :class:`Streams` is either the
whole namespace or bound to one partition (:meth:`Streams.of`, :meth:`Streams.part`): a key of
a partition's streams asked of an unbound one with P > 1 is an error, never a guess. Keys named
by a tenant or a message key find their partition themselves; case ids are numbered so that
no two partitions give the same one. Layout (``{ns}`` stands for the partition's tag where one
applies)::

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
    {ns}:case-seq                           counter behind the short numeric case ids (a case's
                                            id is n * P + k in partition k)
    {ns}:case:<id>, :case:<id>:events|actions   one case (its doc names its tenant)
    {ns}:case-for:<dedupe>, :case-by-message:<key>
    {ns}:cases                              zset of every case, by opening time
    {ns}:tenants                            set of tenants that have cases ("slack:T0…")
    {ns}:policy:doc:<version>               one policy version, as JSON (content-addressed)
    {ns}:policy:default                     hash: the default policy's current version, by, at
    {ns}:tenant:<platform>:<workspace>:…    one tenant's review state (TenantKeys)
    {ns}:raids                              zset: tenants in raid mode, by when it ends (bot.raid)
    {ns}:partitions                         the partition count the streams were written with
                                            (always under the namespace's own tag)

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

import zlib
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from bot.message import Message
from bot.tenant import Tenant

__all__ = ["CaseKeys", "FaqKeys", "Streams", "TenantKeys"]


class Streams(BaseModel):
    """Names under one namespace, for the whole of it or for one partition (see the module)."""

    model_config = ConfigDict(frozen=True)

    namespace: str = "modtriage"
    group: str = "workers"
    partitions: int = Field(default=1, ge=1, le=1024)
    partition: int | None = None  # bound to one partition; None: the whole namespace

    @property
    def prefix(self) -> str:
        """The namespace's own tag: what all tenants share (and everything, with P = 1)."""
        return "{" + self.namespace + "}"

    @property
    def partitions_key(self) -> str:
        """The partition count the streams were written with (:mod:`bot.partitions`)."""
        return f"{self.prefix}:partitions"

    def tag(self, partition: int) -> str:
        """Partition ``partition``'s hash tag (the namespace's own with one partition)."""
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is not in 0..{self.partitions - 1}")
        return self.prefix if self.partitions == 1 else "{" + f"{self.namespace}:{partition}" + "}"

    def partition_of(self, tenant: Tenant) -> int:
        """The partition a tenant's messages, cases and review state live in (stable)."""
        if self.partitions == 1:
            return 0
        return zlib.crc32(str(tenant).encode()) % self.partitions

    def part(self, partition: int) -> Streams:
        """These names bound to one partition."""
        self.tag(partition)  # checks the range
        return self.model_copy(update={"partition": partition})

    def of(self, tenant: Tenant) -> Streams:
        """These names bound to the partition of ``tenant``."""
        return self.part(self.partition_of(tenant))

    def every_partition(self) -> list[Streams]:
        """One bound copy a partition, in order (the one namespace with P = 1)."""
        return [self.part(k) for k in range(self.partitions)]

    @property
    def own(self) -> str:
        """The bound partition's tag.

        Raises:
            RuntimeError: unbound with P > 1 (which partition is meant cannot be guessed).
        """
        if self.partition is not None:
            return self.tag(self.partition)
        if self.partitions == 1:
            return self.prefix
        raise RuntimeError(
            f"a partition's key was asked of all {self.partitions} partitions: bind the names "
            "first (Streams.of(tenant) or Streams.part(k))"
        )

    def _tenant_tag(self, tenant: Tenant) -> str:
        return self.tag(self.partition_of(tenant))

    def tag_of_key(self, message_key: str) -> str:
        """The tag of a message key's tenant (``<platform>:<workspace>:...``)."""
        if self.partitions == 1:
            return self.prefix
        platform, _, rest = message_key.partition(":")
        workspace = rest.partition(":")[0]
        return self._tenant_tag(Tenant.parse(f"{platform}:{workspace}"))

    @property
    def ingest(self) -> str:
        return f"{self.own}:ingest"

    @property
    def verdicts(self) -> str:
        return f"{self.own}:verdicts"

    @property
    def dead(self) -> str:
        return f"{self.own}:dead"

    @property
    def errors(self) -> str:
        return f"{self.own}:errors"

    @property
    def attempts(self) -> str:
        return f"{self.own}:attempts"

    def actions(self, platform: str) -> str:
        return f"{self.own}:actions:{platform}"

    def done(self, action_id: str) -> str:
        """Set by the action dispatcher once an adapter performed the action."""
        return f"{self.own}:done:{action_id}"

    def inflight(self, action_id: str) -> str:
        """Set by the action dispatcher before an adapter performs the action."""
        return f"{self.own}:inflight:{action_id}"

    def due(self, platform: str) -> str:
        """Sorted set: ids of actions held until their time (the score), per platform."""
        return f"{self.own}:due:{platform}"

    def due_actions(self, platform: str) -> str:
        """Hash: id -> Action JSON of the actions in :meth:`due`."""
        return f"{self.own}:due-action:{platform}"

    def verdict_key(self, message_key: str) -> str:
        return f"{self.tag_of_key(message_key)}:verdict:{message_key}"

    def counter(self, kind: str, platform: str, workspace: str, *parts: str) -> str:
        """A rate rule's sorted set for one tenant's ``parts`` (channel, author, ...)."""
        tag = self.tag_of_key(f"{platform}:{workspace}")
        return ":".join((tag, "rate", kind, platform, workspace, *parts))

    def recent(self, platform: str, workspace: str, *where: str) -> str:
        """The last messages of a channel or thread (escalation context)."""
        tag = self.tag_of_key(f"{platform}:{workspace}")
        return ":".join((tag, "recent", platform, workspace, *where))

    def escalation(self, message_key: str) -> str:
        return f"{self.tag_of_key(message_key)}:escalation:{message_key}"

    def frontier_cache(self, digest: str) -> str:
        return f"{self.prefix}:frontier:cache:{digest}"

    def frontier_inflight(self, digest: str) -> str:
        return f"{self.prefix}:frontier:inflight:{digest}"

    def frontier_spend(self, period: str, when: str) -> str:
        """``period`` is ``day`` or ``month``; ``when`` its date."""
        return f"{self.prefix}:frontier:spend:{period}:{when}"

    def tenant(self, tenant: Tenant) -> TenantKeys:
        return TenantKeys(prefix=self._tenant_tag(tenant), tenant=tenant)

    @property
    def raids(self) -> str:
        """Sorted set: a partition's tenants in raid mode (``slack:T0…``), scored by when it
        ends if quiet."""
        return f"{self.own}:raids"

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
    """Key names for cases under one namespace; per-tenant indexes via :meth:`tenant`.

    A case's keys sit in its tenant's partition. Partition k numbers its cases n * P + k (n
    from its own counter), so ids stay unique across partitions (with P = 1: 1, 2, 3, ...)."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams

    def tenant(self, tenant: Tenant) -> TenantKeys:
        return self.streams.tenant(tenant)

    def seq(self, tenant: Tenant) -> str:
        """The counter behind the case ids of ``tenant``'s partition."""
        return self.partition_seq(self.streams.partition_of(tenant))

    def partition_seq(self, partition: int) -> str:
        """The counter behind partition ``partition``'s case ids."""
        return f"{self.streams.tag(partition)}:case-seq"

    def number(self, n: int, tenant: Tenant) -> str:
        """The case id the ``n``-th value of :meth:`seq` gives in ``tenant``'s partition."""
        streams = self.streams
        return str(n * streams.partitions + streams.partition_of(tenant))

    def all(self, tenant: Tenant) -> str:
        """Sorted set: every case of ``tenant``'s partition, by opening time."""
        return f"{self._tag(tenant)}:cases"

    def tenants(self, tenant: Tenant) -> str:
        """Set: the tenants of ``tenant``'s partition that have cases."""
        return self._tenants_at(self._tag(tenant))

    def every_tenants(self) -> list[str]:
        """:meth:`tenants` of every partition."""
        return [self._tenants_at(self.streams.tag(k)) for k in range(self.streams.partitions)]

    @staticmethod
    def _tenants_at(tag: str) -> str:
        return f"{tag}:tenants"

    def case(self, case_id: str, tenant: Tenant) -> str:
        """A case of ``tenant`` (the id alone does not say where: ids stay what they were
        when the partition count changes, their tenants' partitions do not)."""
        return f"{self._tag(tenant)}:case:{case_id}"

    def events(self, case_id: str, tenant: Tenant) -> str:
        return f"{self._tag(tenant)}:case:{case_id}:events"

    def actions(self, case_id: str, tenant: Tenant) -> str:
        return f"{self._tag(tenant)}:case:{case_id}:actions"

    def dedupe(self, token: str, tenant: Tenant) -> str:
        return f"{self._tag(tenant)}:case-for:{token}"

    def by_message(self, message_key: str) -> str:
        return f"{self.streams.tag_of_key(message_key)}:case-by-message:{message_key}"

    def _tag(self, tenant: Tenant) -> str:
        return self.streams.tag(self.streams.partition_of(tenant))


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
