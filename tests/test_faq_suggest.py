"""FAQ suggestions: questions the bot handed off are kept (redacted), grouped, proposed with a
draft answer from their threads, and one accept puts the entry in the FAQ file for the next
member who asks."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.action import Reply
from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR, OnnxEncoder
from bot.classifiers.rules_only import RulesOnlyClassifier
from bot.cli import app
from bot.connection import Redis
from bot.errors import InvalidRequest, PermissionDenied
from bot.faq.entries import FaqEntry, append_entry, load_faqs
from bot.faq.handoffs import Asked, Kind
from bot.faq.matcher import FaqMatcher
from bot.faq.suggestions import propose
from bot.metrics import Metrics
from bot.pipeline.judge import build_judge
from bot.policy import Policy, load_policy
from bot.review.actor import Actor
from bot.review.service import ModerationService
from bot.settings import Settings
from bot.streams import Streams
from bot.tenant import Tenant
from tests.conftest import DEFAULT_POLICY
from tests.harness import ChatHarness

PORT_QUESTIONS = [
    "how do I change the default port of the dev server?",
    "can the development server listen on another port?",
    "dev server port 8000 is taken, where do I set a different one?",
    "is there a setting for which port the local server uses?",
    "how to run the dev server on port 9000 instead?",
]
PORT_ANSWER = "Pass --port to the dev server (ourproject serve --port 9000) or set OURPROJECT_PORT."
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # the day after the harness's chat
MOD = Actor(platform="console", workspace="T1", user_id="mod", is_admin=True)


@pytest.fixture(scope="module")
def encoder() -> OnnxEncoder:
    return OnnxEncoder(model_dir=STOCK_ENCODER_DIR)  # the FAQ encoder the bot uses


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    """The shipped policy and FAQ, copied: accepting a suggestion writes the FAQ file."""
    shutil.copy(DEFAULT_POLICY, tmp_path / "default.yaml")
    shutil.copy(DEFAULT_POLICY.parent / "faq.yaml", tmp_path / "faq.yaml")
    return load_policy(tmp_path / "default.yaml")


def _chat(
    redis: Redis,
    settings: Settings,
    policy: Policy,
    metrics: Metrics,
    encoder: OnnxEncoder,
    workspace: str = "T1",
) -> ChatHarness:
    return ChatHarness(
        redis=redis, settings=settings, policy=policy, classifier=RulesOnlyClassifier(),
        metrics=metrics, encoder=encoder, workspace=workspace,
    )  # fmt: skip


@pytest.fixture
def chat(
    redis: Redis, settings: Settings, policy: Policy, metrics: Metrics, encoder: OnnxEncoder
) -> ChatHarness:
    return _chat(redis, settings, policy, metrics, encoder)


@pytest.fixture
def service(
    redis: Redis, settings: Settings, policy: Policy, encoder: OnnxEncoder
) -> ModerationService:
    return ModerationService(
        redis=redis, streams=Streams(namespace=settings.namespace), policy=policy,
        policy_path=Path(policy.faq.file or "").parent / "default.yaml",
        judges=lambda judged: build_judge(
            policy=judged, classifier=RulesOnlyClassifier(), encoder=encoder
        ),
        clock=lambda: NOW,
    )  # fmt: skip


async def _five_members_ask(chat: ChatHarness) -> None:
    for n, question in enumerate(PORT_QUESTIONS, start=1):
        await chat.say(question, user=f"member{n}", channel="C-help")


async def test_five_members_asking_a_new_question_make_a_suggestion_with_a_moderators_answer(
    chat: ChatHarness, service: ModerationService
) -> None:
    await _five_members_ask(chat)
    assert await chat.actions() == []  # each was handed off: no entry answers it
    await chat.say("same problem here, following", user="member2", channel="C-help", thread="m1")
    await chat.say(PORT_ANSWER, user="maria", roles=("moderator",), channel="C-help", thread="m1")

    [suggestion] = await service.suggest_faq(MOD, days=7)

    assert (suggestion.asked, suggestion.members) == (5, 5)
    assert set(suggestion.questions) == set(PORT_QUESTIONS)
    assert suggestion.answer == PORT_ANSWER
    assert suggestion.answer_by == "moderator"
    assert suggestion.faq_id == "change_default_port_dev"


async def test_accepting_it_answers_the_next_member_who_asks(
    chat: ChatHarness, service: ModerationService, policy: Policy
) -> None:
    await _five_members_ask(chat)
    await chat.say(PORT_ANSWER, user="maria", roles=("moderator",), channel="C-help", thread="m2")
    [suggestion] = await service.suggest_faq(MOD)

    entry = await service.accept_faq(MOD, suggestion.id, faq_id="dev_server_port")

    assert policy.faq.file is not None
    written = load_faqs(policy.faq.file).entry("dev_server_port")
    assert written == entry
    assert written.answer == PORT_ANSWER
    assert set(written.questions) == set(PORT_QUESTIONS)
    await chat.say("how can I change the dev server's port?", user="member6", channel="C-help")
    [reply] = await chat.actions()  # the running worker read the file again
    assert isinstance(reply, Reply)
    assert (reply.faq_id, reply.text, reply.user_id) == ("dev_server_port", PORT_ANSWER, "member6")
    assert await service.suggest_faq(MOD) == []  # an entry answers them all now
    with pytest.raises(InvalidRequest, match="no FAQ suggestion"):
        await service.accept_faq(MOD, suggestion.id)  # accepted once


async def test_one_member_asking_five_times_is_not_a_suggestion(
    chat: ChatHarness, service: ModerationService
) -> None:
    for question in PORT_QUESTIONS:
        await chat.say(question, user="impatient", channel="C-help")
    await chat.say("can someone else tell me about the port?", user="member2", channel="C-help")
    assert await service.suggest_faq(MOD) == []


async def test_a_question_an_entry_covers_is_not_suggested(
    chat: ChatHarness, service: ModerationService, policy: Policy
) -> None:
    await _five_members_ask(chat)
    assert policy.faq.file is not None
    append_entry(  # an operator's `modtriage faq add` since they were asked
        policy.faq.file,
        FaqEntry(id="port", questions=tuple(PORT_QUESTIONS[:3]), answer=PORT_ANSWER),
    )
    assert await service.suggest_faq(MOD) == []


async def test_a_suggestion_without_an_answer_needs_one_to_be_accepted(
    chat: ChatHarness, service: ModerationService, policy: Policy
) -> None:
    await _five_members_ask(chat)
    [suggestion] = await service.suggest_faq(MOD)
    assert suggestion.answer is None
    with pytest.raises(InvalidRequest, match="no draft answer"):
        await service.accept_faq(MOD, suggestion.id)
    entry = await service.accept_faq(MOD, suggestion.id, answer=PORT_ANSWER)
    assert policy.faq.file is not None
    assert load_faqs(policy.faq.file).entry(entry.id).answer == PORT_ANSWER


async def test_another_workspaces_moderator_sees_and_accepts_nothing(
    redis: Redis, settings: Settings, policy: Policy, metrics: Metrics, encoder: OnnxEncoder,
    chat: ChatHarness, service: ModerationService,
) -> None:  # fmt: skip
    await _five_members_ask(chat)
    other_chat = _chat(redis, settings, policy, metrics, encoder, workspace="T2")
    await other_chat.say("how do I change the port of the dev server?", user="member1")
    [suggestion] = await service.suggest_faq(MOD)
    assert suggestion.asked == 5  # T2's question is T2's

    other = Actor(platform="console", workspace="T2", user_id="mod2", is_admin=True)
    assert await service.suggest_faq(other) == []
    with pytest.raises(InvalidRequest, match="no FAQ suggestion"):
        await service.accept_faq(other, suggestion.id, answer="mine now")
    member = Actor(platform="console", workspace="T1", user_id="member1")
    with pytest.raises(PermissionDenied):
        await service.suggest_faq(member)
    assert policy.faq.file is not None
    shipped = load_faqs(DEFAULT_POLICY.parent / "faq.yaml")
    assert load_faqs(policy.faq.file).faqs == shipped.faqs  # unchanged


async def test_questions_are_stored_redacted_and_expire(
    chat: ChatHarness, service: ModerationService
) -> None:
    await chat.say(
        "my invite to alice@example.com never arrived, see https://example.org/x?t=1 how?",
        user="member1",
    )
    key = chat.streams.tenant(Tenant(platform="console", workspace="T1")).faq_asked
    [(_, fields)] = await chat.redis.xrange(key)
    stored = fields[b"text"].decode()
    assert stored == "my invite to [email1] never arrived, see [link] how?"
    assert b"member1" not in b" ".join(fields.values())  # the member is a hash
    assert 0 < await chat.redis.ttl(key) <= 30 * 86400  # faq.keep_questions_days


async def test_nothing_is_kept_when_the_policy_keeps_no_questions(
    redis: Redis, settings: Settings, policy: Policy, metrics: Metrics, encoder: OnnxEncoder
) -> None:
    faq = policy.faq.model_copy(update={"keep_questions_days": 0})
    chat = _chat(redis, settings, policy.model_copy(update={"faq": faq}), metrics, encoder)
    await chat.say(PORT_QUESTIONS[0], user="member1")
    key = chat.streams.tenant(Tenant(platform="console", workspace="T1")).faq_asked
    assert await chat.redis.exists(key) == 0


async def test_operators_list_and_accept_suggestions_from_the_command_line(
    chat: ChatHarness, policy: Policy, redis_url: str, namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    await _five_members_ask(chat)
    await chat.say(PORT_ANSWER, user="maria", roles=("moderator",), channel="C-help", thread="m1")
    assert policy.faq.file is not None
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MODTRIAGE_NAMESPACE", namespace)
    monkeypatch.setenv("MODTRIAGE_POLICY", str(policy.faq.file.parent / "default.yaml"))
    where = ["--workspace", "console:T1"]

    def modtriage(*args: str) -> Result:  # asyncio.run in its own thread: this test's loop runs
        return CliRunner().invoke(app, [*args, *where])

    listed = await asyncio.to_thread(modtriage, "faq", "suggest", "--days", "400", "--json")
    assert listed.exit_code == 0, listed.output
    [suggestion] = json.loads(listed.output)["suggestions"]
    assert (suggestion["asked"], suggestion["members"]) == (5, 5)
    assert suggestion["answer"] == PORT_ANSWER

    accepted = await asyncio.to_thread(
        modtriage, "faq", "suggest", "accept", suggestion["id"], "--id", "dev_port"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "added dev_port to the FAQ (5 questions): Pass --port" in accepted.output
    assert load_faqs(policy.faq.file).entry("dev_port").answer == PORT_ANSWER

    again = await asyncio.to_thread(modtriage, "faq", "suggest", "accept", suggestion["id"])
    assert again.exit_code == 1
    assert "no FAQ suggestion" in again.output


async def test_questions_older_than_the_retention_are_trimmed(chat: ChatHarness) -> None:
    key = chat.streams.tenant(Tenant(platform="console", workspace="T1")).faq_asked
    await chat.redis.xadd(key, {"kind": "question", "key": "old"}, id="1000-0")  # in 1970
    await chat.say(PORT_QUESTIONS[0], user="member1")
    assert [f[b"key"] for _, f in await chat.redis.xrange(key)] == [b"console:T1:C1:m1"]


def _asked(
    kind: Kind, n: int, text: str, *, member: str, thread: str, moderator: bool = False
) -> Asked:
    at = datetime(2026, 11, 27, 12, n, tzinfo=UTC)
    return Asked(kind=kind, key=f"k{n}", text=text, member=member, channel="C", thread=thread,
                 at=at, moderator=moderator)  # fmt: skip


@pytest.mark.parametrize(
    ("replies", "draft", "by"),
    [
        # the asker's own follow-up and a "thanks" are no answers; another member's is
        (
            [("m1", "t1", False, "nvm I found it somewhere in the docs"),
             ("m2", "t1", False, "thanks, same question here!"),
             ("m3", "t2", False, "I pass --port 9000 when I start it, works fine")],
            "I pass --port 9000 when I start it, works fine",
            "member",
        ),
        # a moderator's answer comes first, even a shorter one
        (
            [("m3", "t2", False, "I pass --port 9000 when I start it, works fine for me"),
             ("mod", "t3", True, "Use --port, see the docs.")],
            "Use --port, see the docs.",
            "moderator",
        ),
        # a reply in a thread of another question is not this one's answer
        ([("m9", "elsewhere", True, "Restart the router and try again.")], None, None),
    ],
)  # fmt: skip
async def test_the_draft_answer_is_a_moderators_reply_else_another_members(
    encoder: OnnxEncoder, policy: Policy,
    replies: list[tuple[str, str, bool, str]], draft: str | None, by: str | None,
) -> None:  # fmt: skip
    assert policy.faq.file is not None
    questions = [
        _asked("question", n, q, member=f"m{n}", thread=f"t{n}")
        for n, q in enumerate(PORT_QUESTIONS, start=1)
    ]
    answers = [
        _asked("reply", 10 + i, text, member=who, thread=thread, moderator=mod)
        for i, (who, thread, mod, text) in enumerate(replies)
    ]
    matcher = FaqMatcher(faqs=load_faqs(policy.faq.file), encoder=encoder)
    [suggestion] = await propose([*questions, *answers], matcher, min_members=3)
    assert (suggestion.answer, suggestion.answer_by) == (draft, by)


async def test_the_same_question_asked_in_a_thread_is_asked_again_not_an_answer(
    chat: ChatHarness, service: ModerationService
) -> None:
    await _five_members_ask(chat)
    again = "can anyone tell me how to change the dev server port, I need it too?"
    await chat.say(again, user="member6", channel="C-help", thread="m1")
    [suggestion] = await service.suggest_faq(MOD)
    assert (suggestion.asked, suggestion.members, suggestion.answer) == (6, 6, None)
