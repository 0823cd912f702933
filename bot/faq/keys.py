"""Redis key names for FAQ state: owned by :mod:`bot.keys`."""

from __future__ import annotations

from bot.keys import FaqKeys

__all__ = ["FaqKeys"]
