"""What may leave the machine: personal data becomes placeholders, stable within a case."""

from __future__ import annotations

import pytest

from bot.escalation.redaction import Redactor, luhn_valid
from bot.message import Author

pytestmark = pytest.mark.frontier

PEOPLE = [Author(id="U01ALICE", name="Alice Martin"), Author(id="U02BOB", name="bob")]


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("mail me at alice.m+mod@example.co.uk", "mail me at [email1]"),
        ("call +1 (415) 555-0132 tonight", "call [phone1] tonight"),
        ("my number is 0171 234 5678", "my number is [phone1]"),
        ("card 4111 1111 1111 1111 exp 12/29", "card [card1] exp 12/29"),
        ("card 5555-5555-5555-4444", "card [card1]"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [account1] please"),
        ("account 12345678901", "account [account1]"),
        ("server at 10.0.3.17 and 2001:db8::8a2e:370:7334", "server at [ip1] and [ip2]"),
        (
            "reset at https://shop.example/reset?token=abc123&u=alice, thanks",
            "reset at https://shop.example/reset?[query1], thanks",
        ),
        (
            "see https://docs.python.org/3/library/re.html.",
            "see https://docs.python.org/3/library/re.html.",
        ),
        ("hey <@U02BOB> and <@!998877>", "hey @user2 and @user3"),
        ("ask in <#C024BE7LR|general>", "ask in #channel1"),
        (
            "@Alice Martin said @bob was late; @alice agreed",
            "@user1 said @user2 was late; @user1 agreed",
        ),
        ("@bob look", "@user2 look"),
        # Keys and tokens: each a placeholder, the words around them kept.
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345 ok", "key [secret1] ok"),
        ("token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 leaked", "token [secret1] leaked"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [secret1]"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt [secret1]",
        ),
        ("bot xoxb-1234567890-abcdefghijkl", "bot [secret1]"),
        (
            "post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX now",
            "post to https://hooks.slack.com/[secret1] now",
        ),
        (
            "hook https://discord.com/api/webhooks/123456789012345678/aBcD-eFgH_iJkL",
            "hook https://discord.com/api/webhooks/[secret1]",
        ),
        (
            "get ftp://admin:hunter2@files.example.org/x",
            "get ftp://[credentials1]@files.example.org/x",
        ),
        ("ask U01ABCD2EFG or W0123456789 about it", "ask user3 or user4 about it"),
        ("iban de89 3704 0044 0532 0130 00", "iban [account1]"),
        ("write alice.m[at]example[dot]com", "write [email1]"),
        ("write alice (at) example.com", "write [email1]"),
    ],
)
def test_personal_data_is_replaced(text: str, sent: str) -> None:
    assert Redactor(participants=PEOPLE).redact(text) == sent


@pytest.mark.parametrize(
    "text",
    [
        "the meeting is at 12:30 on 2026-11-27",
        "we have 1,000,000 members and version 3.11",
        "bobsled and alicewonderland are fine words",
        "order 4111 1111 1111 1112 is not a card",  # fails Luhn: an order number, not a card
        "UNDERSTANDING is a word, and so is WONDERFUL",  # not Slack ids
        "we meet at noon",
    ],
)
def test_ordinary_text_keeps_its_meaning(text: str) -> None:
    redacted = Redactor(participants=PEOPLE).redact(text)
    if "4111" in text:
        assert "[card" not in redacted
    else:
        assert redacted == text


def test_the_same_value_gets_the_same_placeholder_and_maps_back() -> None:
    redactor = Redactor(participants=PEOPLE)
    first = redactor.redact("write to a@example.com or b@example.com")
    again = redactor.redact("I said a@example.com, <@U01ALICE>")
    assert first == "write to [email1] or [email2]"
    assert again == "I said [email1], @user1"
    assert redactor.mapping["[email2]"] == "b@example.com"
    assert redactor.mapping["user1"] == "U01ALICE (Alice Martin)"


def test_pseudonyms_depend_only_on_order_of_appearance() -> None:
    one = Redactor(participants=[Author(id="U1", name="ann"), Author(id="U2", name="ben")])
    two = Redactor(participants=[Author(id="X9", name="zoe"), Author(id="X8", name="yan")])
    assert (
        one.redact("@ann thanks @ben") == two.redact("@zoe thanks @yan") == "@user1 thanks @user2"
    )


@pytest.mark.parametrize("name", ["Kill Yourself Tonight", "idiot", "free nitro"])
def test_a_display_name_never_rewrites_what_the_member_wrote(name: str) -> None:
    # A member chooses their own name: as a pattern it would hide their words from the model.
    text = "kill yourself tonight, you idiot. free nitro at evil.example"
    redactor = Redactor(participants=[Author(id="U9", name=name), *PEOPLE])
    assert redactor.redact(text) == text
    assert redactor.redact(f"@{name} said hi") == "@user1 said hi"


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("5555555555554444", True), ("4111111111111112", False)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid
