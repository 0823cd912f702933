"""The extractive summary (the embedded model's ``/mod summary``) on a hand-made thread: which
messages it chooses, who took part, which rules fired, the links, the suggested action, and
that nothing the redaction removed reaches it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.classifiers.onnx_encoder import OnnxEncoder
from bot.insights.summary import ExtractiveSummariser, ThreadSummary, find_links
from bot.message import Author, Message
from bot.policy import Policy
from bot.review.summary_desk import redacted_thread
from bot.verdict import Evidence, Route, Verdict

pytestmark = pytest.mark.insights

_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE = Author(id="U0ALICE01", name="Alice")
BOB = Author(id="U0BOB0002", name="Bob")
MALLORY = Author(id="U0MALL003", name="Mallory")

#: (author, text, evidence): a support thread about a broken installer, one insult, one
#: aside about football.
THREAD: list[tuple[Author, str, tuple[Evidence, ...]]] = [
    (ALICE, "The installer fails on Windows 11 with error 0x80070005 after the update.", ()),
    (BOB, "Same here, the installer crashes at 90% on my Windows laptop.", ()),
    (ALICE, "Logs are here: https://files.example.com/logs/install.txt?token=abc123", ()),
    (MALLORY, "anyone watching the football match tonight?", ()),
    (BOB, "Running the installer as administrator did not fix the crash either.", ()),
    (
        MALLORY,
        "you two are useless idiots, just read the docs",
        (
            Evidence(
                category="toxicity",
                rule="model:toxicity",
                score=0.98,
                route=Route.ACT,
                matched="useless idiots",
            ),
        ),
    ),
    (
        ALICE,
        "Support can reach me at alice.w@example.com or +1 415 555 0199 about the installer.",
        (),
    ),
    (BOB, "The 2.3.1 installer from https://example.com/download works, the update is broken.", ()),
]


def _messages() -> tuple[list[Message], list[Verdict]]:
    messages, verdicts = [], []
    for i, (author, text, evidence) in enumerate(THREAD):
        message = Message(platform="slack", workspace="T0TEAM", channel="C0HELP", id=f"17.{i:04d}",
                          author=author, text=text, ts=_START + timedelta(minutes=i))  # fmt: skip
        route = max((e.route for e in evidence), key=lambda r: r.rank, default=Route.ALLOW)
        category = evidence[0].category if evidence else None
        messages.append(message)
        verdicts.append(Verdict(message_key=message.key, route=route, category=category,
                                stage="classify", evidence=evidence))  # fmt: skip
    return messages, verdicts


@pytest.fixture(scope="module")
def summariser() -> ExtractiveSummariser:
    return ExtractiveSummariser(encoder=OnnxEncoder())


async def _summary(summariser: ExtractiveSummariser, policy: Policy, **kw: object) -> ThreadSummary:
    messages, verdicts = _messages()
    thread = redacted_thread(messages, verdicts, **kw)  # type: ignore[arg-type]
    return await summariser.summarise(thread, policy)


async def test_it_chooses_the_flagged_message_and_the_thread_s_core_not_the_aside(
    summariser: ExtractiveSummariser, default_policy: Policy
) -> None:
    summary = await _summary(summariser, default_policy)

    assert summary.method == "extractive"
    assert summary.messages == 8
    chosen = [e.index for e in summary.excerpts]
    assert chosen == sorted(chosen), "shown in the order they were written"
    assert len(chosen) == len(summary.gist) == 5
    assert 5 in chosen  # the insult, flagged by the model
    assert 3 not in chosen  # the aside about football is far from the thread's centroid
    assert summary.excerpts[chosen.index(5)].flags == ("toxicity 0.98 (model:toxicity)",)
    assert summary.gist[chosen.index(5)] == (
        "user3: you two are useless idiots, just read the docs [toxicity 0.98]"
    )
    # the four others are those nearest the thread's centroid (the committed encoder): the
    # installer reports, not the aside (3) nor the personal contact details (6)
    assert chosen == [0, 1, 4, 5, 7]
    flagged = summary.excerpts[chosen.index(5)]
    assert all(e.centrality > flagged.centrality for e in summary.excerpts if e.index != 5)


async def test_participants_rules_links_and_the_suggested_action(
    summariser: ExtractiveSummariser, default_policy: Policy
) -> None:
    summary = await _summary(summariser, default_policy)

    people = [(p.who, p.user, p.messages, p.flagged) for p in summary.participants]
    assert people == [
        ("user1", "U0ALICE01", 3, 0),
        ("user2", "U0BOB0002", 3, 0),
        ("user3", "U0MALL003", 2, 1),
    ]
    assert summary.participants[0].did == "wrote 3 message(s); shared 1 link(s)"
    assert summary.participants[2].did == "wrote 2 message(s); flagged: toxicity in 1"
    [rule] = summary.rules
    assert (rule.category, rule.rule, rule.messages, rule.top_score) == (
        "toxicity", "model:toxicity", 1, 0.98,
    )  # fmt: skip
    assert summary.applies == ("toxicity",)
    # the query string (a token) was redacted before the summary saw the link
    assert summary.links == (
        "https://files.example.com/logs/install.txt?[query1]",
        "https://example.com/download",
    )
    assert summary.suggested.route is Route.ACT
    assert summary.suggested.category == "toxicity"
    assert summary.suggested.actions == ("warn", "open_case")  # the policy's on_act
    assert summary.suggested.reason == "toxicity 0.98 reaches act in message 6 by user3"


async def test_nothing_the_redaction_removed_reaches_the_summary(
    summariser: ExtractiveSummariser, default_policy: Policy
) -> None:
    summary = await _summary(summariser, default_policy, focus=_messages()[0][6])

    assert 6 in [e.index for e in summary.excerpts], "the focus message is always shown"
    dumped = summary.model_dump_json()
    for secret in ("alice.w@example.com", "415 555 0199", "4155550199", "abc123"):
        assert secret not in dumped  # the matched words are left out with the rest
    assert "[email1]" in dumped
    assert "[phone1]" in dumped


async def test_it_is_deterministic_and_a_quiet_thread_suggests_nothing(
    summariser: ExtractiveSummariser, default_policy: Policy
) -> None:
    messages, verdicts = _messages()
    quiet = [v.model_copy(update={"route": Route.ALLOW, "evidence": ()}) for v in verdicts]
    first = await summariser.summarise(redacted_thread(messages, quiet), default_policy)
    second = await summariser.summarise(redacted_thread(messages, quiet), default_policy)

    assert first == second
    assert first.suggested.route is Route.ALLOW
    assert first.suggested.actions == ()
    assert first.rules == ()
    assert first.applies == ()
    assert 3 not in [e.index for e in first.excerpts]


@pytest.mark.parametrize(
    ("texts", "links"),
    [
        (
            ["see https://a.example/x, then www.b.example/y."],
            ("https://a.example/x", "www.b.example/y"),
        ),
        (["<https://a.example/x|label> and https://a.example/x"], ("https://a.example/x",)),
        (["no links at all", "mail [email1]"], ()),
    ],
)
def test_links_are_found_once_each_without_trailing_punctuation(
    texts: list[str], links: tuple[str, ...]
) -> None:
    assert find_links(texts) == links
