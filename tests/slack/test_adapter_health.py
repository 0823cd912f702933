"""`modtriage run` with Slack tokens, in its own process, as an orchestrator probes it: not
ready until Redis answers and Slack's socket is open; only then does it connect and moderate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chaos.redis_server import RedisServer
from tests.probes import ServiceProcess
from tests.slack.conftest import MODS, payload
from tests.slack.fake_slack import FakeSlack

pytestmark = pytest.mark.slack


async def test_the_adapter_is_ready_once_redis_answers_and_slack_is_connected(
    fake_slack: FakeSlack, tmp_path: Path, namespace: str
) -> None:
    server = RedisServer(data_dir=tmp_path / "redis")  # its port: nothing listens there yet
    adapter = ServiceProcess(
        "run",
        cwd=tmp_path,
        env={
            "REDIS_URL": server.url,
            "MODTRIAGE_NAMESPACE": namespace,
            "MODTRIAGE_CLASSIFIER": "rules",
            "MODTRIAGE_DATA_DIR": str(tmp_path / "data"),
            "MODTRIAGE_SLACK_BOT_TOKEN": "xoxb-test-bot",
            "MODTRIAGE_SLACK_APP_TOKEN": "xapp-1-test",
            "MODTRIAGE_SLACK_API_URL": fake_slack.api_url,
            "MODTRIAGE_SLACK_MODERATORS_CHANNEL": MODS,
        },
    )
    try:
        assert await adapter.answers("/healthz", 200) == {"alive": True}
        await adapter.logged("redis not answering yet, retrying")
        status, body = await adapter.get("/readyz")
        assert status == 503
        assert list(body["waiting_for"]) == ["redis"]
        assert fake_slack.received("apps.connections.open") == []  # no events it cannot keep

        server.start()
        assert await adapter.answers("/readyz", 200) == {"ready": True}
        assert fake_slack.connected
        ack = await fake_slack.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": payload("event_message"),
            },
            within_s=30,
        )
        assert ack == {"envelope_id": "env-1"}
        [notice] = await fake_slack.wait_for("chat.postEphemeral", within_s=60)
        assert notice.args["user"] == "U0MALLORY"

        server.stop()  # Redis goes away: the adapter cannot keep what Slack sends
        gone = await adapter.answers("/readyz", 503)
        assert list(gone["waiting_for"]) == ["redis"]
        assert adapter.stop() == 0
    finally:
        adapter.stop()
        server.stop()
    assert "Traceback" not in adapter.stderr()
