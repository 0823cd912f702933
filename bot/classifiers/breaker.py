"""A circuit breaker: stop calling a model server that keeps failing, probe it now and then."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls fail fast until ``reset_after_s`` has passed
    HALF_OPEN = "half_open"  # one probe call goes through; its outcome closes or reopens


class CircuitBreaker:
    """Opens after ``failures`` consecutive failures; after ``reset_after_s`` lets one probe
    through. Not thread-safe: one per event loop, like the client it guards."""

    def __init__(
        self,
        *,
        failures: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_after_s <= 0:
            raise ValueError("failures must be >= 1 and reset_after_s > 0")
        self._threshold = failures
        self._reset_after_s = reset_after_s
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probe_at: float | None = None

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._reset_after_s:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now (in half-open state, only the first caller's)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN:
            now = self._clock()
            # one probe at a time; a probe never reported (its caller was cancelled) expires
            if self._probe_at is None or now - self._probe_at >= self._reset_after_s:
                self._probe_at = now
                return True
        return False

    def record_success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._probe_at = None

    def record_failure(self) -> None:
        self._consecutive += 1
        if self._probe_at is not None or self._consecutive >= self._threshold:
            self._opened_at = self._clock()
        self._probe_at = None
