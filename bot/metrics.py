"""Prometheus metrics, registered on a registry passed in (the default one in production)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, *, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.messages = Counter(
            "modtriage_messages_total", "Messages decided", ["platform"], registry=registry
        )
        self.decisions = Counter(
            "modtriage_decisions_total",
            "Verdicts by route and category",
            ["route", "category", "stage"],
            registry=registry,
        )
        self.actions = Counter(
            "modtriage_actions_total", "Actions emitted by type", ["type"], registry=registry
        )
        self.stage_seconds = Histogram(
            "modtriage_stage_seconds",
            "Time per batch in each stage",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_to_decision = Histogram(
            "modtriage_ingest_to_decision_seconds",
            "From XADD on the ingest stream to the committed verdict",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.stream_pending = Gauge(
            "modtriage_stream_pending",
            "Entries delivered to workers but not yet acknowledged",
            registry=registry,
        )
        self.stream_length = Gauge(
            "modtriage_stream_length", "Entries in the ingest stream", registry=registry
        )
        self.stream_undelivered = Gauge(
            "modtriage_stream_undelivered",
            "Entries in the ingest stream not yet delivered to any worker (the consumer group's "
            "lag; on Redis 6.2 counted up to 10,000). The stream is never trimmed past them",
            registry=registry,
        )
        self.dead_letters = Counter(
            "modtriage_dead_letters_total", "Entries moved to the dead-letter stream", ["reason"],
            registry=registry,
        )  # fmt: skip
        self.failures = Counter(
            "modtriage_failures_total", "Batches or messages that failed and stay pending",
            ["kind"], registry=registry,
        )  # fmt: skip
        self.classifier_invalid = Counter(
            "modtriage_classifier_invalid_total", "Model answers that broke their schema",
            ["model"], registry=registry,
        )  # fmt: skip
        self.classifier_fallbacks = Counter(
            "modtriage_classifier_fallbacks_total",
            "Texts a fallback model labelled because the configured one failed",
            ["model", "kind"], registry=registry,
        )  # fmt: skip
        self.escalations = Counter(
            "modtriage_escalations_total",
            "Messages escalated to the frontier model, by outcome (answered, cached, "
            "budget_exhausted, unavailable, malformed); divide by messages_total for the rate",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.frontier_tokens = Counter(
            "modtriage_frontier_tokens_total", "Tokens the frontier API reported, by kind",
            ["kind"], registry=registry,
        )  # fmt: skip
        self.frontier_cost = Counter(
            "modtriage_frontier_cost_total",
            "Spent on the frontier model, in the configured currency; 1000 * this / "
            "messages_total is the cost per 1,000 messages",
            registry=registry,
        )
        self.score_drift = Gauge(
            "modtriage_score_drift_psi",
            "Population stability index of today's model scores against the 7 days before, per "
            "category: the highest among the tenants this worker decides for (0.1 watch, 0.25 "
            "drifted; absent while too few scores)",
            ["category"],
            registry=registry,
        )
        self.frontier_spent = Gauge(
            "modtriage_frontier_spent",
            "Spent on the frontier model this UTC day or month (period), in the configured "
            "currency, as every worker's budget counts it",
            ["period"], registry=registry,
        )  # fmt: skip
        self.frontier_budget = Gauge(
            "modtriage_frontier_budget",
            "The frontier spending limit per UTC day or month (period); escalation stops there",
            ["period"], registry=registry,
        )  # fmt: skip
        self.review_queue_cases = Gauge(
            "modtriage_review_queue_cases", "Cases waiting in a tenant's review queue",
            ["tenant"], registry=registry,
        )  # fmt: skip
        self.review_queue_oldest_seconds = Gauge(
            "modtriage_review_queue_oldest_seconds",
            "How long the oldest case in a tenant's review queue has waited (0 when empty)",
            ["tenant"], registry=registry,
        )  # fmt: skip
        self.redelivered = Counter(
            "modtriage_reclaimed_total", "Pending entries reclaimed from idle consumers",
            registry=registry,
        )  # fmt: skip
