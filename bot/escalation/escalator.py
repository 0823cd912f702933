"""The frontier model (Anthropic's Messages API) as a second opinion on one hard message.

:meth:`FrontierEscalator.assess` never raises for the model's sake: it returns an
:class:`~bot.escalation.record.EscalationRecord` whose outcome says whether the model judged
the message (answered, or from the cache) or why not (budget exhausted, API unavailable after
retries or timeout, malformed answer). The caller routes every other outcome to human review.
Only Redis errors propagate, leaving the message pending in its stream.

Only one request per prompt is in flight across workers: a second escalation of the same
redacted prompt waits (at most the first one's deadline) and takes its answer from the cache.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import structlog

from bot.errors import BudgetExhausted, MalformedAnswer
from bot.escalation.answer import TOOL_NAME, AnswerSchema
from bot.escalation.budget import Reservation, SpendingBudget
from bot.escalation.cache import AnswerCache, content_hash
from bot.escalation.pricing import Prices, Usage
from bot.escalation.prompt import Prompt, build_prompt, estimate_tokens, system_prompt
from bot.escalation.record import EscalationRecord, Outcome
from bot.message import Message
from bot.policy import Policy

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from anthropic.types import MessageParam, TextBlockParam, ToolParam

__all__ = ["TOOL_OVERHEAD_TOKENS", "FrontierEscalator"]

log = structlog.get_logger(__name__)

#: Tokens the API adds for tool use with a forced tool choice (Anthropic's documented
#: tool-use system prompt is about 350 tokens), on top of the tool's own schema.
TOOL_OVERHEAD_TOKENS = 400
#: Seconds the in-flight mark outlives the call's own deadline (Redis round trips, settling).
_HOLD_MARGIN_S = 5.0


class FrontierEscalator:
    """Redacts, budgets, caches and asks the frontier model about one message at a time."""

    def __init__(
        self,
        *,
        client: AsyncAnthropic | None,
        policy: Policy,
        model: str,
        prices: Prices,
        budget: SpendingBudget,
        cache: AnswerCache,
        max_input_tokens: int,
        max_output_tokens: int,
        max_message_chars: int,
        deadline_s: float,
        unavailable_reason: str = "no Anthropic API key is configured",
    ) -> None:
        self._client = client
        self._policy = policy
        self.model = model
        self.name = f"frontier:{model}"
        self._prices = prices
        self._budget = budget
        self._cache = cache
        self._max_input_tokens = max_input_tokens
        self._max_output_tokens = max_output_tokens
        self._max_message_chars = max_message_chars
        self._deadline_s = deadline_s
        self._unavailable_reason = unavailable_reason
        self._schema = AnswerSchema(policy=policy)
        self._tool = self._schema.tool()
        self._system = system_prompt(policy)
        self._overhead = estimate_tokens(json.dumps(self._tool)) + TOOL_OVERHEAD_TOKENS

    def for_policy(self, policy: Policy) -> FrontierEscalator:
        """This escalator (its client, budget and cache) asking under another policy version."""
        if policy.version == self._policy.version:
            return self
        other = copy.copy(self)
        other._policy = policy
        other._schema = AnswerSchema(policy=policy)
        other._tool = other._schema.tool()
        other._system = system_prompt(policy)
        other._overhead = estimate_tokens(json.dumps(other._tool)) + TOOL_OVERHEAD_TOKENS
        return other

    @property
    def unavailable(self) -> str | None:
        """Why nothing can be sent (no API key), or None when requests can go out."""
        return self._unavailable_reason if self._client is None else None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def assess(self, message: Message, context: Sequence[Message]) -> EscalationRecord:
        """Ask the frontier model about ``message`` with ``context`` (earlier messages, oldest
        first). Raises only Redis errors."""
        prompt = build_prompt(
            policy=self._policy,
            message=message,
            context=context,
            max_input_tokens=self._max_input_tokens,
            max_message_chars=self._max_message_chars,
            system=self._system,
            overhead_tokens=self._overhead,
        )
        digest = content_hash(
            policy_version=self._policy.version,
            model=self.model,
            system=prompt.system,
            user=prompt.user,
        )
        base: dict[str, Any] = {
            "message_key": message.key,
            "model": self.model,
            "policy_version": self._policy.version,
            "system": prompt.system,
            "user": prompt.user,
            "context_messages": prompt.context_messages,
            "pseudonyms": prompt.pseudonyms,
            "cache_key": digest,
            "currency": self._prices.currency,
        }
        cached = self._from_cache(base, await self._cache.get(digest))
        if cached is not None:
            return cached
        if self._client is None:
            return EscalationRecord(
                **base, outcome=Outcome.UNAVAILABLE, sent=False, error=self._unavailable_reason
            )
        # One request per content at a time: a second escalation of the same prompt (another
        # worker that reclaimed this message while the answer was slow, or the same words
        # posted twice) waits for the first one's answer rather than paying again.
        token = await self._cache.hold(digest, for_s=self._deadline_s + _HOLD_MARGIN_S)
        if token is None:
            answer = await self._cache.wait(digest, within_s=self._deadline_s + _HOLD_MARGIN_S)
            waited = self._from_cache(base, answer)
            if waited is not None:
                return waited
            return EscalationRecord(
                **base, outcome=Outcome.UNAVAILABLE, sent=False,
                error="another request about the same conversation got no answer in time",
            )  # fmt: skip
        try:
            worst = self._prices.cost(
                Usage(
                    input_tokens=prompt.estimated_input_tokens,
                    output_tokens=self._max_output_tokens,
                )
            )
            try:
                reservation = await self._budget.reserve(worst)
            except BudgetExhausted as exc:
                log.warning("escalation budget spent", message_key=message.key, error=str(exc))
                return EscalationRecord(
                    **base, outcome=Outcome.BUDGET_EXHAUSTED, sent=False, error=str(exc)
                )
            return await self._call(self._client, base, prompt, reservation, digest)
        finally:
            await self._cache.release(digest, token)

    def _from_cache(
        self, base: dict[str, Any], cached: dict[str, Any] | None
    ) -> EscalationRecord | None:
        if cached is None:
            return None
        try:
            classification = self._schema.parse(cached, model=self.name)
        except MalformedAnswer:
            log.warning("ignoring a cached answer that no longer fits", cache_key=base["cache_key"])
            return None
        return EscalationRecord(
            **base, outcome=Outcome.CACHED, sent=False, answer=cached,
            classification=classification,
        )  # fmt: skip

    async def _call(
        self,
        client: AsyncAnthropic,
        base: dict[str, Any],
        prompt: Prompt,
        reservation: Reservation,
        digest: str,
    ) -> EscalationRecord:
        import anthropic  # lazy: only a worker with escalation enabled needs the SDK loaded

        # The system prompt (the policy) is the same for every call: let the API cache it.
        system: TextBlockParam = {
            "type": "text",
            "text": prompt.system,
            "cache_control": {"type": "ephemeral"},
        }
        user: MessageParam = {"role": "user", "content": prompt.user}
        try:
            response = await asyncio.wait_for(
                client.messages.create(
                    model=self.model,
                    max_tokens=self._max_output_tokens,
                    system=[system],
                    messages=[user],
                    tools=[cast("ToolParam", self._tool)],
                    tool_choice={"type": "tool", "name": TOOL_NAME},
                ),
                timeout=self._deadline_s,
            )
        except anthropic.APIStatusError as exc:
            # Refused requests are not billed: give the reservation back.
            await self._budget.settle(reservation, 0.0)
            reason = f"API refused after retries: HTTP {exc.status_code}"
            return self._unavailable(base, reason, exc)
        except (anthropic.APIError, TimeoutError) as exc:
            # A request that timed out may still have run: keep the reservation as spent.
            reason = f"API unavailable after retries: {type(exc).__name__}"
            return self._unavailable(base, reason, exc)
        except ValueError as exc:
            # A body that is not JSON (a proxy's error page): the cost is unknown, so the
            # reservation stays spent.
            log.warning("unreadable frontier response", message_key=base["message_key"])
            return EscalationRecord(
                **base, outcome=Outcome.MALFORMED, sent=True,
                error=f"response is not a Messages API answer: {type(exc).__name__}",
            )  # fmt: skip
        try:
            reported = response.usage
            usage = Usage(
                input_tokens=reported.input_tokens,
                output_tokens=reported.output_tokens,
                cache_write_tokens=reported.cache_creation_input_tokens or 0,
                cache_read_tokens=reported.cache_read_input_tokens or 0,
            )
            content = list(response.content)
        except (AttributeError, TypeError, ValueError) as exc:
            # JSON, but not a Message (the SDK parses leniently): the cost is unknown, so the
            # reservation stays spent.
            return EscalationRecord(
                **base, outcome=Outcome.MALFORMED, sent=True,
                error=f"response is not a Messages API answer: {type(exc).__name__}",
            )  # fmt: skip
        cost = self._prices.cost(usage)
        await self._budget.settle(reservation, cost)
        spent = {"sent": True, "usage": usage, "cost": cost}
        blocks = [b for b in content if b.type == "tool_use" and b.name == TOOL_NAME]
        if not blocks:
            got = [b.model_dump(mode="json") for b in content]
            return EscalationRecord(
                **base, **spent, outcome=Outcome.MALFORMED, answer={"content": got},
                error=f"no {TOOL_NAME} tool call (stop_reason {response.stop_reason})",
            )  # fmt: skip
        answer = blocks[0].input
        answer_dict = answer if isinstance(answer, dict) else {"input": answer}
        try:
            classification = self._schema.parse(answer, model=self.name)
        except MalformedAnswer as exc:
            return EscalationRecord(
                **base, **spent, outcome=Outcome.MALFORMED, answer=answer_dict,
                error=exc.reason,
            )  # fmt: skip
        await self._cache.put(digest, answer_dict)
        return EscalationRecord(
            **base, **spent, outcome=Outcome.ANSWERED, answer=answer_dict,
            classification=classification,
        )  # fmt: skip

    def _unavailable(
        self, base: dict[str, Any], reason: str, exc: BaseException
    ) -> EscalationRecord:
        log.warning("frontier model unavailable", message_key=base["message_key"], error=repr(exc))
        return EscalationRecord(**base, outcome=Outcome.UNAVAILABLE, sent=True, error=reason)
