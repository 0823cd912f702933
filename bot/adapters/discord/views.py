"""Buttons and modals. Every button is a persistent :class:`discord.ui.DynamicItem`: its
``custom_id`` carries what it acts on (``mt:case:timeout:<case id>``), the classes are
registered in ``setup_hook``, and so a card posted before a restart still answers after it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from pydantic import ValidationError

from bot.adapters.discord.cards import case_embed
from bot.case import Case, CaseStatus
from bot.errors import ReviewError
from bot.message import Platform
from bot.policy import parse_duration
from bot.review.actor import Actor
from bot.review.decision import Decision, DecisionKind

if TYPE_CHECKING:
    from bot.adapters.discord.bot import ModtriageBot

__all__ = [
    "DYNAMIC_ITEMS",
    "AppealButton",
    "CaseButton",
    "FeedbackButton",
    "SummaryButton",
    "actor_of",
    "appeal_view",
    "case_view",
    "feedback_view",
]

_PLATFORM: Platform = "discord"
_CASE_ID = r"[A-Za-z0-9_.:-]{1,64}"
#: Decisions that ask for a reason (and a duration) in a modal before they are applied.
_MODAL_KINDS: frozenset[str] = frozenset({"timeout", "kick", "ban"})
_BUTTONS: dict[str, tuple[str, discord.ButtonStyle]] = {
    "remove": ("Remove", discord.ButtonStyle.danger),
    "warn": ("Warn", discord.ButtonStyle.primary),
    "timeout": ("Timeout…", discord.ButtonStyle.primary),
    "kick": ("Kick…", discord.ButtonStyle.danger),
    "ban": ("Ban…", discord.ButtonStyle.danger),
    "dismiss": ("Dismiss", discord.ButtonStyle.secondary),
    "overturn": ("Overturn", discord.ButtonStyle.success),
    "uphold": ("Uphold", discord.ButtonStyle.secondary),
}
#: What a moderator can still decide on a case in each status (the service's case life).
_BUTTONS_BY_STATUS: dict[CaseStatus, tuple[str, ...]] = {
    CaseStatus.OPEN: ("remove", "warn", "timeout", "kick", "ban", "dismiss"),
    CaseStatus.ACTIONED: ("timeout", "kick", "ban", "overturn"),
    CaseStatus.APPEALED: ("overturn", "uphold"),
}


def _bot(interaction: discord.Interaction[Any]) -> ModtriageBot:
    from bot.adapters.discord.bot import ModtriageBot  # the bot module imports this one

    client = interaction.client
    if not isinstance(client, ModtriageBot):
        raise TypeError(f"modtriage views need a ModtriageBot, not {type(client).__name__}")
    return client


def actor_of(interaction: discord.Interaction[Any], *, workspace: str | None = None) -> Actor:
    """Who clicked or typed: their role ids (the names only for display: another guild may
    have a role of the same name) and whether they administer the guild. ``workspace`` is
    needed where the interaction comes from a DM (appeals)."""
    user = interaction.user
    roles: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    if isinstance(user, discord.Member):
        held = [role for role in user.roles if not role.is_default()]
        roles = tuple(str(role.id) for role in held)
        names = tuple(role.name for role in held)
    where = workspace or (str(interaction.guild_id) if interaction.guild_id else "")
    return Actor(
        platform=_PLATFORM,
        workspace=where or "dm",
        user_id=str(user.id),
        name=user.display_name,
        roles=roles,
        role_names=names,
        is_admin=interaction.guild_id is not None and interaction.permissions.administrator,
    )


def case_view(case: Case) -> discord.ui.View:
    """The decision buttons a card shows for the case's status (none once it is closed), and
    the thread's summary while a decision is open."""
    view = discord.ui.View(timeout=None)
    kinds = _BUTTONS_BY_STATUS.get(case.status, ())
    for kind in kinds:
        view.add_item(CaseButton(kind, case.id))
    if kinds:
        view.add_item(SummaryButton(case.id))
    return view


def appeal_view(workspace: str, case_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AppealButton(workspace, case_id))
    return view


def feedback_view(faq_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton(faq_id, helpful=True))
    view.add_item(FeedbackButton(faq_id, helpful=False))
    return view


async def apply_decision(
    interaction: discord.Interaction[Any], case_id: str, decision: Decision
) -> None:
    """Record a moderator's decision and redraw the card. The service publishes the actions
    the decision calls for on the actions stream; the dispatcher performs each exactly once,
    and a refusal from Discord reaches the moderators' channel as a notice."""
    bot = _bot(interaction)
    await interaction.response.defer()
    try:
        case, actions = await bot.moderation.decide(actor_of(interaction), case_id, decision)
    except ReviewError as exc:
        await interaction.followup.send(str(exc), ephemeral=True)
        return
    view = case_view(case)
    note = "Decided: " + (", ".join(a.type for a in actions) or "no action")
    await interaction.edit_original_response(
        embed=case_embed(case, note=note), view=view if view.children else None
    )


class CaseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"mt:case:(?P<kind>[a-z]+):(?P<case_id>{_CASE_ID})",
):
    def __init__(self, kind: str, case_id: str) -> None:
        label, style = _BUTTONS[kind]
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=f"mt:case:{kind}:{case_id}")
        )
        self.kind = kind
        self.case_id = case_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> CaseButton:
        kind = match["kind"]
        if kind not in _BUTTONS:
            raise ValueError(f"unknown case button {kind!r}")
        return cls(kind, match["case_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if self.kind in _MODAL_KINDS:
            await interaction.response.send_modal(DecisionModal(self.kind, self.case_id))
            return
        kind: DecisionKind = self.kind  # type: ignore[assignment]  # checked in from_custom_id
        await apply_decision(interaction, self.case_id, Decision(kind=kind))


def duration_input(modal: discord.ui.Modal) -> discord.ui.TextInput[Any]:
    """A timeout's duration, added to ``modal`` (read with ``parse_duration``)."""
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Duration (at most 28d)", custom_id="duration", placeholder="10m, 1h, 1d, 7d",
        default="1h", max_length=8,
    )  # fmt: skip
    modal.add_item(field)
    return field


def reason_input(modal: discord.ui.Modal, *, required: bool) -> discord.ui.TextInput[Any]:
    """The reason the member is told, added to ``modal``."""
    field: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Reason (the member sees it)", custom_id="reason",
        style=discord.TextStyle.paragraph, required=required, max_length=1000,
    )  # fmt: skip
    modal.add_item(field)
    return field


class DecisionModal(discord.ui.Modal):
    """Reason (and for a timeout, its duration) before a sanction is applied."""

    def __init__(self, kind: str, case_id: str) -> None:
        super().__init__(
            title=f"{kind.capitalize()} · case {case_id}"[:45],
            custom_id=f"mt:decide:{kind}:{case_id}"[:100],
            timeout=15 * 60,
        )
        self.kind = kind
        self.case_id = case_id
        self.duration = duration_input(self) if kind == "timeout" else None
        self.reason = reason_input(self, required=False)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        duration_s: int | None = None
        try:
            if self.duration is not None:
                parsed = parse_duration(self.duration.value)
                duration_s = parsed if isinstance(parsed, int) else int(str(parsed))
            kind: DecisionKind = self.kind  # type: ignore[assignment]  # from our own buttons
            decision = Decision(kind=kind, reason=self.reason.value, duration_s=duration_s)
        except (ValueError, ValidationError) as exc:
            problem = (
                "a duration must be between 1s and 28d, written like 10m, 1h or 7d"
                if isinstance(exc, ValidationError) or self.duration is not None
                else str(exc)
            )
            await interaction.response.send_message(f"Not applied: {problem}.", ephemeral=True)
            return
        await apply_decision(interaction, self.case_id, decision)


class AppealButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"mt:appeal:(?P<workspace>\d+):(?P<case_id>{_CASE_ID})",
):
    def __init__(self, workspace: str, case_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Appeal",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mt:appeal:{workspace}:{case_id}",
            )
        )
        self.workspace = workspace
        self.case_id = case_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> AppealButton:
        return cls(match["workspace"], match["case_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.send_modal(AppealModal(self.workspace, self.case_id))


class AppealModal(discord.ui.Modal):
    def __init__(self, workspace: str, case_id: str) -> None:
        super().__init__(title="Appeal this decision", custom_id=f"mt:appeal-text:{case_id}"[:100])
        self.workspace = workspace
        self.case_id = case_id
        self.text: discord.ui.TextInput[AppealModal] = discord.ui.TextInput(
            label="Why should moderators look again?",
            custom_id="appeal",
            style=discord.TextStyle.paragraph,
            min_length=5,
            max_length=1500,
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        actor = actor_of(interaction, workspace=self.workspace)
        try:
            case = await bot.moderation.appeal(actor, self.case_id, self.text.value)
        except ReviewError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        await interaction.response.send_message(
            f"Your appeal on case {case.id} is with the moderators. You will hear back here.",
            ephemeral=True,
        )


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"mt:faq:(?P<vote>up|down):(?P<faq_id>[\w.-]{1,80})",
):
    def __init__(self, faq_id: str, *, helpful: bool) -> None:
        vote = "up" if helpful else "down"
        super().__init__(
            discord.ui.Button(
                label="Helpful" if helpful else "Not helpful",
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mt:faq:{vote}:{faq_id}",
            )
        )
        self.faq_id = faq_id
        self.helpful = helpful

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> FeedbackButton:
        return cls(match["faq_id"], helpful=match["vote"] == "up")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        message_id = interaction.message.id if interaction.message else 0
        counted = await bot.feedback.record(
            faq_id=self.faq_id,
            helpful=self.helpful,
            voter=str(interaction.user.id),
            answer=str(message_id),
        )
        text = "Thanks, noted." if counted else "You already rated this answer."
        await interaction.response.send_message(text, ephemeral=True)


class SummaryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"mt:summary:(?P<case_id>{_CASE_ID})",
):
    def __init__(self, case_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Summary",
                style=discord.ButtonStyle.secondary,
                custom_id=f"mt:summary:{case_id}",
            )
        )
        self.case_id = case_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> SummaryButton:
        return cls(match["case_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.adapters.discord.summary import summarise, summary_embed  # it imports us

        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            found, title = await summarise(interaction.client, interaction, self.case_id)
        except (ReviewError, ValueError) as exc:
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        await interaction.followup.send(embed=summary_embed(found, title=title), ephemeral=True)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    CaseButton,
    SummaryButton,
    AppealButton,
    FeedbackButton,
)
