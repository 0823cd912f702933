"""The app manifest asks for exactly the scopes of the Web API methods the adapter calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.adapters.slack.app import REPORT_CALLBACK
from bot.adapters.slack.shortcuts import SHORTCUTS

pytestmark = pytest.mark.slack

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "slack" / "manifest.yaml"
ADAPTER = ROOT / "bot" / "adapters" / "slack"

#: Bot scope each method needs (Slack's method reference); None: no scope needed.
#: conversations.kick/invite need channels:manage (public) and groups:write (private);
#: conversations.history/replies need channels:history and groups:history likewise.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.getPermalink": (),
    "views.open": (),
    "reactions.add": ("reactions:write",),
    "conversations.kick": ("channels:manage", "groups:write"),
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "conversations.list": ("channels:read", "groups:read"),
    "auth.test": (),
    "usergroups.list": ("usergroups:read",),
}
#: Scopes no Web API call needs: receiving /mod and the shortcut, and the message events
#: (message.channels, message.groups need channels:history, groups:history).
FEATURE_SCOPES = {"commands", "channels:history", "groups:history"}
_CALL = re.compile(r"\b(?:client|_client)\.([a-z]+)_([A-Za-z]+)\b")


def _bot_methods() -> set[str]:
    found = set()
    for path in ADAPTER.glob("*.py"):
        found |= {f"{a}.{b}" for a, b in _CALL.findall(path.read_text())}
    return found


def test_every_method_the_adapter_calls_has_a_known_scope() -> None:
    assert _bot_methods() == set(METHOD_SCOPES)


def test_the_manifest_asks_for_exactly_those_scopes() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    needed = {s for scopes in METHOD_SCOPES.values() for s in scopes} | FEATURE_SCOPES
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    # no user scope unless deletion is wanted: the admin token's one scope is there to uncomment
    assert "user" not in manifest["oauth_config"]["scopes"]
    optional = yaml.safe_load(
        "\n".join(
            line.replace("# ", "", 1)
            for line in MANIFEST.read_text().splitlines()
            if line.strip() in {"# user:", "#   - chat:write"}
        )
    )
    assert optional == {"user": ["chat:write"]}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "message.channels",
        "message.groups",
        "team_join",
    }
    assert [s["callback_id"] for s in manifest["features"]["shortcuts"]] == [
        REPORT_CALLBACK, *SHORTCUTS,
    ]  # fmt: skip
    assert manifest["features"]["slash_commands"][0]["command"] == "/mod"
