"""A moderator's decision on a case."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "DecisionKind"]

DecisionKind = Literal["remove", "dismiss", "warn", "timeout", "kick", "ban", "overturn"]


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: DecisionKind
    reason: str = Field(default="", max_length=2000)
    duration_s: int | None = Field(default=None, gt=0, le=28 * 24 * 3600)
