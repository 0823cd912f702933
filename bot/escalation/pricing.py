"""What a frontier call costs: reported token usage times the price table from settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.settings import Settings

__all__ = ["Prices", "Usage"]


class Usage(BaseModel):
    """Tokens one call used, as the API reported them."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)


class Prices(BaseModel):
    """Currency per million tokens, for one model."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)
    currency: str = "USD"

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        return cls(
            input=settings.frontier_price_input,
            output=settings.frontier_price_output,
            cache_write=settings.frontier_price_cache_write,
            cache_read=settings.frontier_price_cache_read,
            currency=settings.frontier_currency,
        )

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / 1_000_000
