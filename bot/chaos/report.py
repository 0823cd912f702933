"""What a chaos run reports: one result per scenario, as JSON and as a Markdown table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChaosReport", "ScenarioResult"]


class ScenarioResult(BaseModel):
    """One scenario: its counts from Redis and the far side, and the faults that happened."""

    model_config = ConfigDict(frozen=True)

    name: str
    n: int = Field(description="entries published to the ingest stream")
    lost: int = Field(description="published, neither decided nor dead-lettered")
    duplicated_actions: int = Field(description="performances of an action beyond its first")
    duplicated_at_death: int = Field(
        default=0,
        description="of those, actions first performed as the last act of a process that was "
        "then killed, before it could mark them done; its successor performed them again",
    )
    duplicated_by_one_process: int = Field(
        default=0,
        description="of those, actions one dispatcher performed twice: Redis went away between "
        "performing one and marking it done, and it read its own unfinished actions again",
    )

    @property
    def unexplained_duplicates(self) -> int:
        """Duplicates neither window above accounts for."""
        explained = self.duplicated_at_death + self.duplicated_by_one_process
        return max(0, self.duplicated_actions - explained)

    dead_lettered: int
    degraded: int = Field(description="verdicts marked degraded (the model did not answer)")
    recovery_s: float | None = Field(
        description="from the last fault until the backlog drained; None: it never drained"
    )
    faults_planned: int
    faults: int = Field(description="faults that verifiably happened (see ``evidence``)")
    evidence: tuple[str, ...] = Field(default=(), description="what shows each fault happened")
    slurs: int = Field(description="deny-listed slurs among the messages")
    rules_acted: int = Field(description="of those, acted on (act verdict, delete performed)")
    model_unavailable: int = Field(description="verdicts the rules made alone, model timed out")
    actions_performed: int
    actions_undone: int = Field(description="emitted, neither performed nor dead-lettered")
    dead_without_reason: int = 0
    crashed: tuple[str, ...] = Field(default=(), description="processes that died by themselves")
    problems: tuple[str, ...] = Field(default=(), description="why the scenario failed")

    @property
    def ok(self) -> bool:
        return not self.problems


class ChaosReport(BaseModel):
    """Every scenario of one run; ``ok`` when nothing was lost or done twice anywhere."""

    model_config = ConfigDict(frozen=True)

    scenarios: tuple[ScenarioResult, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.scenarios)

    def table(self) -> str:
        """A Markdown table of the headline figures (the README's "Fault tolerance")."""
        rows = [
            "| scenario | n | lost | duplicated | dead-lettered | degraded | rules acted "
            "| recovery s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for s in self.scenarios:
            recovery = "never" if s.recovery_s is None else f"{s.recovery_s:.1f}"
            rows.append(
                f"| {s.name} | {s.n} | {s.lost} | {s.duplicated_actions} | {s.dead_lettered} "
                f"| {s.degraded} | {s.rules_acted}/{s.slurs} | {recovery} |"
            )
        return "\n".join(rows)
