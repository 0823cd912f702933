"""The frontier model's answer: a pydantic model per policy, sent as a strict tool schema.

The model must call the one tool it is given (``tool_choice`` forces it) with a score for
every category of the policy and a short rationale. The schema is generated from the pydantic
model; the same model validates what comes back, so an answer outside it is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bot.classification import Classification
from bot.errors import MalformedAnswer
from bot.policy import Policy

__all__ = ["TOOL_NAME", "AnswerSchema"]

TOOL_NAME = "record_assessment"

Score = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AnswerSchema:
    """The answer model for one policy, its tool definition and the parser for answers."""

    def __init__(self, *, policy: Policy) -> None:
        fields: dict[str, Any] = {
            name: (
                Score,
                Field(description=f"probability that the message falls under '{name}'"),
            )
            for name in policy.categories
        }
        scores = create_model("CategoryScores", __base__=_Strict, **fields)
        self.model: type[BaseModel] = create_model(
            "Assessment",
            __base__=_Strict,
            scores=(scores, Field(description="one probability per category")),
            rationale=(
                str,
                Field(
                    max_length=500,
                    description="one or two sentences a moderator can read, naming members "
                    "only by the pseudonyms used in the conversation",
                ),
            ),
        )
        self.categories = tuple(policy.categories)

    def tool(self) -> dict[str, Any]:
        """The tool definition for the Messages API (strict: the API enforces the schema)."""
        from anthropic import transform_schema  # lazy: the SDK is only needed to escalate

        return {
            "name": TOOL_NAME,
            "description": "Record your assessment of the message under review.",
            "input_schema": transform_schema(self.model),
            "strict": True,
        }

    def parse(self, answer: object, *, model: str) -> Classification:
        """A Classification from the tool input the model sent.

        Raises:
            MalformedAnswer: the input does not fit the schema.
        """
        try:
            parsed = self.model.model_validate(answer)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(answer)"
            raise MalformedAnswer(model, f"answer does not fit the schema: {where}: "
                                  f"{first['msg']}") from exc  # fmt: skip
        scores = parsed.model_dump()["scores"]
        return Classification(
            scores={name: float(scores[name]) for name in self.categories},
            model=model,
            rationale=parsed.model_dump()["rationale"][:500],
        )
