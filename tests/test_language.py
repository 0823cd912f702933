"""Languages the small model does not handle go to the frontier model.

The detector is the real py3langid model shipped in its package; the routing is the pure step
that turns the small model's scores into evidence.
"""

from __future__ import annotations

import pytest

from bot.classification import Classification
from bot.connection import Redis
from bot.message import Author, Message
from bot.pipeline.classify import model_evidence
from bot.pipeline.decide import decide
from bot.pipeline.language import LanguageDetector
from bot.pipeline.rules import RuleBook
from bot.policy import Escalation, Policy
from bot.verdict import Route
from tests.frontier_chat import ChatFactory, record_of
from tests.messages_api import MessagesApi

FRENCH = "t'es vraiment un gros connard, ferme-la"
SPANISH = "eres un idiota, cállate ya de una vez"
ENGLISH = "shut up you absolute idiot, nobody cares"


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (FRENCH, "fr"),
        (SPANISH, "es"),
        ("Du bist so ein Vollidiot, halt endlich die Klappe", "de"),
        (ENGLISH, "en"),
        ("anyone tried the beta? it crashed twice on my laptop", "en"),
        # too short to tell: treated as handled
        ("ok", None),
        ("c'est nul", None),
        ("lmao ur so dumb", None),
        # links, mentions and HTML entities are not language
        ("<@U0123ABC> https://example.com/a/b?c=d&e=f #general @someone", None),
        ("&#8220;bonjour&#8221; https://t.co/jrgG9Eq4Xv", None),
        # emoji and box drawing have no language
        ("😫😓😏😪😔😖😌😭😎😚😘😙😗😋😝😜😛😍😒😞😷😶😵😳😲😱😟", None),
    ],
)
def test_the_language_of_a_text_long_enough_to_tell(
    detector: LanguageDetector, text: str, language: str | None
) -> None:
    assert detector.detect(text) == language


async def test_a_batch_is_detected_off_the_event_loop(detector: LanguageDetector) -> None:
    assert await detector.detect_many([FRENCH, "ok", ENGLISH]) == ["fr", None, "en"]


def _message(text: str) -> Message:
    return Message(
        platform="console", workspace="T1", channel="C1", id="m1", author=Author(id="u"), text=text
    )


def _escalating(
    policy: Policy, *, enabled: bool = True, languages: tuple[str, ...] = ("en",)
) -> Policy:
    escalation = Escalation(enabled=enabled, languages=languages)
    return policy.model_copy(update={"escalation": escalation})


@pytest.mark.parametrize(
    ("score", "language", "route", "note"),
    [
        # review band in French: the frontier model, with the reason on the evidence
        (0.7, "fr", Route.ESCALATE, "language fr is not handled by the small model"),
        # act band by the model alone in Spanish: the frontier model too
        (0.98, "es", Route.ESCALATE, "language es is not handled by the small model"),
        # the escalate band stays escalate, and says why
        (0.9, "fr", Route.ESCALATE, None),
        # below review: allowed whatever the language
        (0.1, "fr", None, None),
        # English, or a text too short to tell: the bands as they are
        (0.7, "en", Route.REVIEW, None),
        (0.98, "en", Route.ACT, None),
        (0.7, None, Route.REVIEW, None),
    ],
)
def test_an_unhandled_language_in_the_review_band_or_above_is_escalated(
    default_policy: Policy,
    score: float,
    language: str | None,
    route: Route | None,
    note: str | None,
) -> None:
    policy = _escalating(default_policy)
    found = model_evidence(
        # harassment: review 0.2, escalate 0.8, act 0.95 in the default policy
        Classification(scores={"harassment": score}, model="small", language=language),
        policy,
        "C1",
    )
    if route is None:
        assert found == []
        return
    [evidence] = found
    assert evidence.route is route
    assert evidence.note == note
    if note:
        assert note in evidence.explain()


def test_languages_the_policy_lists_are_handled(default_policy: Policy) -> None:
    policy = _escalating(default_policy, languages=("en", "fr"))
    classification = Classification(scores={"toxicity": 0.7}, model="small", language="fr")
    [evidence] = model_evidence(classification, policy, "C1")
    assert evidence.route is Route.REVIEW


def test_without_escalation_the_language_changes_nothing(default_policy: Policy) -> None:
    policy = _escalating(default_policy, enabled=False)
    for score, route in ((0.7, Route.REVIEW), (0.98, Route.ACT)):
        classification = Classification(scores={"toxicity": score}, model="small", language="fr")
        [evidence] = model_evidence(classification, policy, "C1")
        assert evidence.route is route
        assert evidence.note is None


def test_rules_still_act_on_their_own_in_any_language(default_policy: Policy) -> None:
    policy = _escalating(default_policy)
    message = _message("ferme-la, espèce de f4gg0t, personne ne veut de toi ici")
    classification = Classification(scores={"hate": 0.7}, model="small", language="fr")
    evidence = [
        *RuleBook(policy=policy).evidence(message),
        *model_evidence(classification, policy, message.channel),
    ]
    verdict, actions = decide(message, evidence, classification, policy)
    assert verdict.route is Route.ACT
    assert verdict.stage == "rules"
    assert verdict.evidence[0].rule.startswith("deny:")
    assert "delete" in [a.type for a in actions]


@pytest.mark.frontier
async def test_an_insult_in_french_or_spanish_goes_to_the_frontier_model(
    escalating: ChatFactory, api: MessagesApi, redis: Redis
) -> None:
    # The small model scores all of these in toxicity's review band (0.6 .. 0.85).
    unsure = {"toxicity": 0.7}
    chat = escalating(scores={FRENCH: unsure, SPANISH: unsure, ENGLISH: unsure, "ok": unsure})

    english = await chat.say(ENGLISH, user="mallory")
    short = await chat.say("ok", user="mallory")
    assert api.received == []  # English, and a text too short to tell, stay with the small model
    for verdict in (english, short):
        assert verdict.route is Route.REVIEW
        assert verdict.stage == "classify"
        assert verdict.evidence[0].note is None

    french = await chat.say(FRENCH, user="mallory")
    spanish = await chat.say(SPANISH, user="mallory")
    assert [r.user_text.rsplit("\n", 2)[-2] for r in api.received] == [FRENCH, SPANISH]
    for verdict in (french, spanish):
        assert verdict.stage == "escalate"  # the frontier model decided (tool_use_allow)
        assert verdict.route is Route.ALLOW
    record = await record_of(chat, redis, "console:T1:C1:m3")
    assert record.first_opinion is not None
    assert record.first_opinion.language == "fr"


@pytest.mark.frontier
async def test_without_a_key_an_unhandled_language_goes_to_review_saying_why(
    escalating: ChatFactory, api: MessagesApi
) -> None:
    chat = escalating(scores={SPANISH: {"toxicity": 0.99}}, api_key=None)
    verdict = await chat.say(SPANISH, user="mallory")

    assert api.received == []
    assert verdict.route is Route.REVIEW  # not acted on by the small model alone
    assert verdict.degraded
    assert "language es is not handled by the small model" in verdict.explain()
