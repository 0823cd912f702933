"""The one exception tree of modtriage.

::

    ModtriageError
    ├── ConfigError                 settings or environment cannot work (start-up)
    │   └── PolicyError             a policy or FAQ file has a mistake (file, key, fix)
    ├── StoreUnavailable            Redis cannot be reached (carries ``url``, ``retry_after``)
    ├── MalformedMessage            a stream entry or platform event cannot become a Message
    ├── ClassifierError             a model call failed (carries ``model``, ``retryable``)
    │   ├── ClassifierTimeout       no answer in time
    │   ├── ClassifierUnavailable   server down, refusing (429/5xx) or its circuit is open
    │   ├── ClassifierOutputInvalid the answer failed its schema (never guessed; counted)
    │   └── EscalationUnavailable   the frontier model cannot judge this case; it goes to human
    │       │                       review (carries ``reason``)
    │       ├── BudgetExhausted     the daily or monthly spending limit is reached (``period``,
    │       │                       ``spent``, ``limit``)
    │       └── MalformedAnswer     the frontier model answered outside the schema
    ├── ActionError                 an adapter could not perform an Action (carries ``action_id``,
    │                               ``status``, ``retry_after``)
    └── ReviewError                 a moderator or member operation was refused
        ├── PermissionDenied        the actor lacks a moderator role (carries ``actor``)
        ├── CaseNotFound            no case with that id (carries ``case_id``)
        ├── CaseConflict            claimed by someone else, already decided, closed (``case_id``)
        ├── InvalidRequest          the request cannot apply: unknown category, empty appeal
        └── PolicyRejected          a policy reload found a mistake; the old policy stays
                                    (carries the ``PolicyError`` as ``error``)

Start-up errors (``ConfigError``) stop the program with a clear message; per-message errors
leave the message recoverable in its stream.
"""

from __future__ import annotations

from bot.urls import mask_url

__all__ = [
    "ActionError",
    "BudgetExhausted",
    "CaseConflict",
    "CaseNotFound",
    "ClassifierError",
    "ClassifierOutputInvalid",
    "ClassifierTimeout",
    "ClassifierUnavailable",
    "ConfigError",
    "EscalationUnavailable",
    "InvalidRequest",
    "MalformedAnswer",
    "MalformedMessage",
    "ModtriageError",
    "PermissionDenied",
    "PolicyError",
    "PolicyRejected",
    "ReviewError",
    "StoreUnavailable",
]


class ModtriageError(Exception):
    """Base of every error modtriage raises on purpose."""


class ConfigError(ModtriageError):
    """Settings or environment that cannot work; raised at start-up."""


class PolicyError(ConfigError):
    """A policy or FAQ file with a mistake, naming the file, the key and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{file}: {key}: {problem}. Fix: {fix}")


class StoreUnavailable(ModtriageError):
    """Redis cannot be reached."""

    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        self.url = mask_url(url)  # errors are printed and logged: never with the password
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"Redis at {self.url} is unavailable: {reason}")


class MalformedMessage(ModtriageError):
    """A stream entry or platform event that cannot be turned into a Message."""

    def __init__(self, reason: str, entry_id: str | None = None) -> None:
        self.reason = reason
        self.entry_id = entry_id
        super().__init__(reason if entry_id is None else f"entry {entry_id}: {reason}")


class ClassifierError(ModtriageError):
    """A model call failed."""

    def __init__(self, model: str, reason: str, *, retryable: bool = True) -> None:
        self.model = model
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{model}: {reason}")


class ClassifierTimeout(ClassifierError):
    """A model call did not answer in time."""


class ClassifierUnavailable(ClassifierError):
    """The model server cannot answer now: unreachable, refusing (429/5xx), or its circuit is
    open. ``status`` is the last HTTP status, if any."""

    def __init__(self, model: str, reason: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(model, reason, retryable=True)


class ClassifierOutputInvalid(ClassifierError):
    """The model answered, but not in its schema. Never guessed at: counted and raised."""

    def __init__(self, model: str, reason: str, *, output: str = "") -> None:
        self.output = output[:500]
        super().__init__(model, reason, retryable=False)


class EscalationUnavailable(ClassifierError):
    """The frontier model cannot judge this case (no key, API failure after retries, timeout).

    The escalate stage never lets this drop or allow a message: it routes the case to human
    review with ``escalation_unavailable`` evidence naming ``reason``.
    """

    def __init__(self, model: str, reason: str, *, retryable: bool = False) -> None:
        super().__init__(model, reason, retryable=retryable)


class BudgetExhausted(EscalationUnavailable):
    """The daily or monthly escalation budget would be exceeded by this call."""

    def __init__(self, model: str, *, period: str, spent: float, limit: float) -> None:
        self.period = period
        self.spent = spent
        self.limit = limit
        super().__init__(model, f"{period} budget spent ({spent:.4f} of {limit:.4f})")


class MalformedAnswer(EscalationUnavailable):
    """The frontier model answered, but not with the tool call and schema it was given."""


class ActionError(ModtriageError):
    """An adapter could not perform an Action."""

    def __init__(
        self,
        action_id: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.action_id = action_id
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"action {action_id}: {reason}")


class ReviewError(ModtriageError):
    """A moderator or member operation was refused; the message is safe to show them."""


class PermissionDenied(ReviewError):
    def __init__(self, actor: str, operation: str) -> None:
        self.actor = actor
        self.operation = operation
        super().__init__(f"{actor} may not {operation}: moderators only")


class CaseNotFound(ReviewError):
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case {case_id!r}")


class CaseConflict(ReviewError):
    def __init__(self, case_id: str, reason: str) -> None:
        self.case_id = case_id
        self.reason = reason
        super().__init__(f"case {case_id}: {reason}")


class InvalidRequest(ReviewError):
    """The request cannot apply as asked (unknown category, empty appeal, ...)."""


class PolicyRejected(ReviewError):
    def __init__(self, error: PolicyError) -> None:
        self.error = error
        super().__init__(f"policy not reloaded, the old one stays in force: {error}")
