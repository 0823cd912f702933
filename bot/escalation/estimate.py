"""How much escalation costs: the share of traffic escalated and the cost per 1,000 messages,
against sending every message to the frontier model.

Judges labelled rows as the pipeline would (:class:`bot.pipeline.judge.Judge`, in batches of
the workers' size, with escalation enabled and nothing sent), builds the real redacted prompt
for each (the preceding rows of the same file stand in for the channel's recent messages), and
prices it with the settings' price table.
Nothing is sent anywhere. Token counts are the project's conservative estimate (characters / 3
plus the tool definition), and each answer is assumed to use ``output_tokens``; identical
prompts are counted once, as the answer cache would.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.classifiers.base import Classifier
from bot.classifiers.dataset import read_rows, split_of
from bot.errors import ClassifierError
from bot.escalation.answer import AnswerSchema
from bot.escalation.cache import content_hash
from bot.escalation.escalator import TOOL_OVERHEAD_TOKENS
from bot.escalation.pricing import Prices, Usage
from bot.escalation.prompt import build_prompt, estimate_tokens, system_prompt
from bot.message import Author, Message
from bot.pipeline.judge import build_judge
from bot.policy import Escalation, FaqSettings, Policy
from bot.settings import Settings
from bot.verdict import Route

__all__ = ["EstimateReport", "Row", "estimate_escalation", "validation_rows"]

#: Tokens a typical answer uses: eight scores and a one-sentence rationale.
OUTPUT_TOKENS = 150


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    source: str
    flagged: bool | None = Field(default=None, description="any annotated category is 1")


class EstimateReport(BaseModel):
    """The numbers for the README: escalation share and cost against all-to-frontier."""

    model_config = ConfigDict(frozen=True)

    rows: int
    classifier: str
    model: str
    currency: str
    escalated: int
    escalated_share: float
    escalated_share_of_flagged: float | None = None
    escalated_share_of_clean: float | None = None
    escalated_by_category: dict[str, int]
    routes: dict[str, int]
    cache_hits: int
    mean_input_tokens: float
    output_tokens_per_call: int
    cost_per_1000_escalating: float
    cost_per_1000_all_frontier: float
    ratio: float | None


def validation_rows(data_dir: Path) -> Iterator[Row]:
    """The held-out validation rows of ``data_dir/moderation/*.jsonl``, in file order: the
    same hash split the embedded model was trained and calibrated around, so none of these
    rows was fitted on.

    Raises:
        ConfigError: a file cannot be read or a line is not a moderation row (file:line).
    """
    for path in sorted((data_dir / "moderation").glob("*.jsonl")):
        for row in read_rows(path):
            if split_of(row.text) == "val":
                yield Row(text=row.text, source=path.stem, flagged=row.flagged)


async def estimate_escalation(
    *,
    rows: Sequence[Row],
    classifier: Classifier,
    policy: Policy,
    settings: Settings,
    output_tokens: int = OUTPUT_TOKENS,
    batch: int | None = None,
) -> EstimateReport:
    """Raises ClassifierError (ClassifierTimeout) when the small model fails."""
    policy = policy.model_copy(
        update={
            "escalation": Escalation(
                enabled=True, context_messages=policy.escalation.context_messages
            ),
            # FAQ answers come after the route is decided and cannot change it
            "faq": FaqSettings(),
        }
    )
    judge = build_judge(policy=policy, classifier=classifier, settings=settings)
    prices = Prices.from_settings(settings)
    schema = AnswerSchema(policy=policy)
    system = system_prompt(policy)
    overhead = estimate_tokens(json.dumps(schema.tool())) + TOOL_OVERHEAD_TOKENS
    messages = [
        Message(
            platform="console",
            workspace="estimate",
            channel=row.source,
            id=str(index),
            author=Author(id=f"member{index}", name=f"member{index}"),
            text=row.text,
        )
        for index, row in enumerate(rows)
    ]
    size = batch or settings.batch_size
    judged = []
    for start in range(0, len(messages), size):
        judged += await judge.judge(messages[start : start + size])
    failed = next((item.model_unavailable for item in judged if item.model_unavailable), None)
    if failed is not None:  # an estimate on the rules alone would understate escalations
        raise ClassifierError(classifier.name, failed)
    recent: dict[str, deque[Message]] = {}
    routes: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    seen_all: set[str] = set()
    seen_escalated: set[str] = set()
    cost_all = cost_escalated = 0.0
    tokens_escalated = escalated = hits = 0
    by_label: Counter[tuple[bool, bool]] = Counter()
    for row, item in zip(rows, judged, strict=True):
        message, verdict = item.message, item.verdict
        assert verdict is not None  # the decide stage always gives one
        window = recent.setdefault(row.source, deque(maxlen=policy.escalation.context_messages))
        prompt = build_prompt(
            policy=policy,
            message=message,
            context=list(window),
            max_input_tokens=settings.frontier_max_input_tokens,
            max_message_chars=settings.model_max_chars,
            system=system,
            overhead_tokens=overhead,
        )
        window.append(message)
        digest = content_hash(
            policy_version=policy.version, model=settings.frontier_model, system=system,
            user=prompt.user,
        )  # fmt: skip
        cost = prices.cost(
            Usage(input_tokens=prompt.estimated_input_tokens, output_tokens=output_tokens)
        )
        if digest not in seen_all:
            seen_all.add(digest)
            cost_all += cost
        routes[verdict.route.value] += 1
        if row.flagged is not None:
            by_label[(row.flagged, verdict.route is Route.ESCALATE)] += 1
        if verdict.route is not Route.ESCALATE:
            continue
        escalated += 1
        categories[verdict.category or ""] += 1
        if digest in seen_escalated:
            hits += 1
            continue
        seen_escalated.add(digest)
        cost_escalated += cost
        tokens_escalated += prompt.estimated_input_tokens
    total = len(rows)

    def share(flagged: bool) -> float | None:
        seen = by_label[(flagged, True)] + by_label[(flagged, False)]
        return by_label[(flagged, True)] / seen if seen else None

    per_1000 = 1000 / total if total else 0.0
    return EstimateReport(
        rows=total,
        classifier=classifier.name,
        model=settings.frontier_model,
        currency=prices.currency,
        escalated=escalated,
        escalated_share=escalated / total if total else 0.0,
        escalated_share_of_flagged=share(True),
        escalated_share_of_clean=share(False),
        escalated_by_category=dict(categories.most_common()),
        routes=dict(routes),
        cache_hits=hits,
        mean_input_tokens=tokens_escalated / max(1, escalated - hits),
        output_tokens_per_call=output_tokens,
        cost_per_1000_escalating=cost_escalated * per_1000,
        cost_per_1000_all_frontier=cost_all * per_1000,
        ratio=cost_all / cost_escalated if cost_escalated else None,
    )
