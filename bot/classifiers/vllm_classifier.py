"""The policy-reading small model, served by vLLM behind its OpenAI-compatible API."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.classification import Classification
from bot.classifiers.breaker import CircuitBreaker
from bot.classifiers.retry import RetryPolicy, call_with_retries
from bot.classifiers.vllm_prompt import Call, Prompter, PromptFormat, Reply
from bot.errors import ClassifierOutputInvalid
from bot.policy import Policy

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from prometheus_client import Counter

__all__ = ["VllmClassifier"]


class VllmClassifier:
    """Labels texts with a model on ``/v1/chat/completions`` (or ``/v1/completions`` for the
    guard formats that need their exact prompt), under structured outputs.

    At most ``max_concurrency`` requests are in flight; each has the client's timeout; 429, 5xx,
    timeouts and refused connections are retried with jitter (``retry``), and a circuit breaker
    stops calling a server that keeps failing (:class:`~bot.errors.ClassifierUnavailable` at
    once). An answer that breaks its schema raises :class:`~bot.errors.ClassifierOutputInvalid`
    and is counted in ``invalid``; it is never guessed at.

    classifier = VllmClassifier(client=AsyncOpenAI(base_url="http://vllm:8000/v1",
        api_key="-", max_retries=0, timeout=5), model="qwen3-guard", policy=policy)
    """

    def __init__(
        self,
        *,
        client: AsyncOpenAI,
        model: str,
        policy: Policy,
        prompt_format: PromptFormat = PromptFormat.INSTRUCT,
        faq_ids: Sequence[str] = (),
        max_concurrency: int = 8,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        invalid: Counter | None = None,
        seed: int = 0,
    ) -> None:
        self._client = client
        self._model = model
        self._prompter = Prompter(policy=policy, prompt_format=prompt_format, faq_ids=faq_ids)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._invalid = invalid
        self._seed = seed
        self.name = f"vllm:{model}:{prompt_format.value}"

    async def aclose(self) -> None:
        """Close the HTTP client (the one given at construction: this object owns it)."""
        await self._client.close()

    @property
    def prompter(self) -> Prompter:
        """How texts become requests (exposed for tests and ``modtriage classify --explain``)."""
        return self._prompter

    async def classify(self, texts: Sequence[str]) -> list[Classification]:
        """One Classification per text, in order.

        Raises:
            ClassifierUnavailable: the server is down, refusing, or its circuit is open.
            ClassifierTimeout: no answer in time after retries.
            ClassifierOutputInvalid: an answer broke its schema.
            ClassifierError: the server refused a request as malformed.
        """
        results = await asyncio.gather(*(self._one(t) for t in texts), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, Classification)]

    async def _one(self, text: str) -> Classification:
        calls = self._prompter.calls(text)
        replies = [await self._send(call) for call in calls]
        try:
            reading = self._prompter.read(calls, replies)
        except ValueError as exc:
            if self._invalid is not None:
                self._invalid.labels(model=self.name).inc()
            raise ClassifierOutputInvalid(self.name, str(exc), output=replies[0].text) from exc
        return Classification(
            scores=reading.scores, model=self.name, faq=reading.faq, rationale=reading.rationale
        )

    async def _send(self, call: Call) -> Reply:
        async with self._semaphore:
            return await call_with_retries(
                lambda: self._request(call),
                model=self.name,
                policy=self._retry,
                breaker=self.breaker,
            )

    async def _request(self, call: Call) -> Reply:
        options: dict[str, Any] = {
            "model": self._model,
            "max_tokens": call.max_tokens,
            "temperature": 0.0,
            "seed": self._seed,
        }
        extra: dict[str, Any] = {}
        if call.structured_outputs is not None:
            extra["structured_outputs"] = call.structured_outputs
        if call.chat_template_kwargs is not None:
            extra["chat_template_kwargs"] = call.chat_template_kwargs
        if extra:
            options["extra_body"] = extra
        if call.api == "completion":
            if call.logprobs:
                options["logprobs"] = 5
            completion = await self._client.completions.create(prompt=call.prompt, **options)
            choice = completion.choices[0]
            top: dict[str, float] = {}
            if choice.logprobs and choice.logprobs.top_logprobs:
                top = dict(choice.logprobs.top_logprobs[0])
            return Reply(text=choice.text, finish_reason=choice.finish_reason, top_logprobs=top)
        if call.logprobs:
            options.update(logprobs=True, top_logprobs=5)
        if call.response_format is not None:
            options["response_format"] = call.response_format
        messages: list[Any] = [dict(m) for m in call.messages]  # the SDK's role TypedDicts
        chat = await self._client.chat.completions.create(messages=messages, **options)
        answer = chat.choices[0]
        top = {}
        if answer.logprobs and answer.logprobs.content:
            top = {t.token: t.logprob for t in answer.logprobs.content[0].top_logprobs}
        return Reply(
            text=answer.message.content or "",
            finish_reason=answer.finish_reason,
            top_logprobs=top,
        )
