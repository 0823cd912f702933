"""Mistakes a new operator makes, as they meet them: one line naming the setting, file or option
and the fix, exit code 2, never a traceback (issue 16)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.classifiers.onnx_encoder import STOCK_ENCODER_DIR as STOCK
from tests.test_cli import modtriage

BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"
CONVERSATION_LINE = (
    '{"user": str, "text": str, "channel"?: str, "roles"?: [str], "after_s"?: seconds, '
    '"thread"?: str}'
)


def refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    """The command printed exactly ``error: <line>`` on stderr and exited with 2."""
    assert result.stderr == f"error: {line}\n"
    assert result.returncode == 2


@pytest.mark.parametrize("command", [("queue",), ("classify", "hello"), ("run",)])
def test_a_redis_url_that_is_not_redis_names_the_schemes_and_hides_the_password(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = modtriage(*command, tmp_path=tmp_path, env={"REDIS_URL": "http://ops:hunter2@x"})
    refused(
        result,
        "setting REDIS_URL: must be a redis://, rediss:// or unix:// URL, not "
        "'http://ops:***@x'; fix it, or unset it for an embedded Redis",
    )
    assert "hunter2" not in result.stdout + result.stderr


def test_a_binary_conversation_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "photo.jsonl").write_bytes(BINARY)
    result = modtriage("run", "--conversation", "photo.jsonl", tmp_path=tmp_path)
    refused(
        result,
        "photo.jsonl:1: not UTF-8 text (byte 0x89 at column 1); is it the file you meant? "
        "Save it as UTF-8",
    )


def test_a_binary_file_to_eval_blames_the_file_not_the_backend(tmp_path: Path) -> None:
    (tmp_path / "photo.jsonl").write_bytes(BINARY)
    result = modtriage("eval", "moderation", "photo.jsonl", "--backend", "rules", tmp_path=tmp_path)
    refused(
        result,
        "photo.jsonl:1: not UTF-8 text (byte 0x89 at column 1); is it the file you meant? "
        "Save it as UTF-8",
    )


def test_an_unknown_backend_is_still_blamed_on_backend(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"text": "hi", "labels": {"spam": 0}, "source": "t"}\n')
    result = modtriage("eval", "moderation", "rows.jsonl", "--backend", "gpt", tmp_path=tmp_path)
    refused(result, "--backend: Input should be 'embedded', 'rules' or 'vllm'")


def test_a_missing_encoder_names_the_setting_and_make_encoder(tmp_path: Path) -> None:
    result = modtriage(
        "classify", "hi", tmp_path=tmp_path,
        env={"MODTRIAGE_CLASSIFIER": "embedded", "MODTRIAGE_ENCODER_DIR": "/nonexistent"},
    )  # fmt: skip
    refused(
        result,
        "setting MODTRIAGE_ENCODER_DIR: no sentence encoder in /nonexistent (encoder.json, "
        "model.onnx, tokenizer.json); unset it for the one shipped in the package, or run "
        f"`make encoder` and set it to {STOCK}",
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"text": "where is the release?"}', "missing field 'user'"),
        ('{"user": "maya"}', "missing field 'text'"),
        ('{"user": "maya", "text": "hi", "after_s": "soon"}',
         "field 'after_s': Input should be a valid number, unable to parse string as a number"),
        ("maya: hi", "not a JSON object (Invalid JSON: expected value at line 1 column 1)"),
    ],
)  # fmt: skip
def test_a_conversation_row_that_is_not_one_names_line_and_field(
    tmp_path: Path, line: str, problem: str
) -> None:
    (tmp_path / "missing.jsonl").write_text('{"user": "maya", "text": "hi"}\n' + line + "\n")
    result = modtriage("run", "--conversation", "missing.jsonl", tmp_path=tmp_path)
    refused(result, f"missing.jsonl:2: {problem} (each line needs {CONVERSATION_LINE})")


BOM = "\ufeff"  # Notepad's UTF-8; PyYAML already skipped one in policy and FAQ files


def test_files_saved_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    conversation = tmp_path / "talk.jsonl"
    conversation.write_text(BOM + '{"user": "maya", "text": "morning all"}\n', encoding="utf-8")
    result = modtriage("run", "--conversation", str(conversation), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "@maya: 'morning all'\n   → ALLOW" in result.stdout

    rows = tmp_path / "rows.jsonl"
    row = {"text": "buy followers now", "labels": {"spam": 1}, "source": "t"}
    rows.write_text(BOM + json.dumps(row) + "\n", encoding="utf-8")
    result = modtriage("eval", "moderation", str(rows), "--backend", "rules", "--json",
                       tmp_path=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 1


def test_a_policy_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(b"name: latin\n# caf\xe9\n")
    result = modtriage("classify", "hello", tmp_path=tmp_path,
                       env={"MODTRIAGE_POLICY": str(policy)})  # fmt: skip
    refused(result, f"{policy}: line 2: is not UTF-8 text. Fix: save the file as UTF-8")


def test_a_timeout_longer_than_discord_allows_says_so(tmp_path: Path) -> None:
    result = modtriage("decide", "1", "timeout", "--duration", "30d", tmp_path=tmp_path)
    refused(result, "--duration: a timeout is at most 28 days (Discord's limit), not 30d")


DATA = (
    "--data ../shared/data does not exist: the labelled data is the public sets listed in "
    "bot/classifiers/DATA_CARD.md, one moderation/<source>.jsonl each (DESIGN.md rows), kept "
    "outside the repo; pass --data <the folder that holds moderation/>"
)


def test_train_without_the_shared_data_says_where_it_comes_from(tmp_path: Path) -> None:
    result = modtriage("train", tmp_path=tmp_path)
    refused(result, DATA + ", or --no-public to train from the policy and written examples only")


def test_estimate_without_the_shared_data_says_where_it_comes_from(tmp_path: Path) -> None:
    result = modtriage("escalation", "estimate", tmp_path=tmp_path)
    refused(result, DATA)
