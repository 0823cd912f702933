"""Calls to an OpenAI-compatible server: bounded retries with full jitter, a circuit breaker,
and the SDK's errors mapped onto the project's exception tree."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import openai

from bot.classifiers.breaker import CircuitBreaker
from bot.errors import ClassifierError, ClassifierTimeout, ClassifierUnavailable

__all__ = ["RetryPolicy", "call_with_retries"]

T = TypeVar("T")


class RetryPolicy:
    """``attempts`` tries in all; between them sleep ``uniform(0, min(cap, base * 2**n))``
    (full jitter), or the server's ``Retry-After`` when it asks for longer (up to ``cap_s``)."""

    def __init__(
        self,
        *,
        attempts: int = 3,
        base_s: float = 0.1,
        cap_s: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.attempts = attempts
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        jittered = self._rng.uniform(0.0, min(self.cap_s, self.base_s * 2**attempt))
        if retry_after is not None:
            return min(self.cap_s, max(jittered, retry_after))
        return jittered


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _classify_error(model: str, exc: openai.OpenAIError) -> ClassifierError:
    """The project's error for an SDK error; ``retryable`` says whether to try again."""
    if isinstance(exc, openai.APITimeoutError):
        return ClassifierTimeout(model, "the server did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return ClassifierUnavailable(model, f"cannot reach the server: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429 or status >= 500:
            return ClassifierUnavailable(model, f"server answered {status}", status=status)
        return ClassifierError(model, f"server refused the request ({status}): {exc.message}",
                               retryable=False)  # fmt: skip
    return ClassifierError(model, f"unexpected client error: {exc}", retryable=False)


async def call_with_retries(
    send: Callable[[], Awaitable[T]],
    *,
    model: str,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
) -> T:
    """``await send()`` with retries on timeouts, connection errors, 429 and 5xx.

    Raises:
        ClassifierUnavailable: the circuit is open, or every attempt failed to reach the server.
        ClassifierTimeout: the last attempt timed out.
        ClassifierError: the server refused the request (4xx other than 429): not retried.
    """
    last: ClassifierError | None = None
    for attempt in range(policy.attempts):
        if not breaker.allow():
            raise last or ClassifierUnavailable(model, "circuit open: the server kept failing")
        try:
            result = await send()
        except openai.OpenAIError as exc:
            error = _classify_error(model, exc)
            if not error.retryable:
                breaker.record_success()  # the server answered; the request was wrong
                raise error from exc
            breaker.record_failure()
            last = error
            if attempt + 1 < policy.attempts:
                after = _retry_after(exc) if isinstance(exc, openai.APIStatusError) else None
                await asyncio.sleep(policy.delay(attempt, after))
            continue
        breaker.record_success()
        return result
    raise last or ClassifierUnavailable(model, "no attempt was made")
