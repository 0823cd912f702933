"""modtriage as a user installs it: the wheel built from the Docker build context, installed
in a fresh virtual environment, run from a folder that is not the repository."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from bot.connection import redis_client
from bot.message import Author, Message
from bot.pipeline.ingest import Ingest
from bot.streams import Streams, decode_action
from tests.build_context import copy_context
from tests.conftest import ROOT
from tests.probes import ServiceProcess

pytestmark = pytest.mark.install

SLUR = Message(
    platform="console", workspace="T1", channel="general", id="m1",
    author=Author(id="u1", name="troll42"), text="shut up you f4gg0t",
)  # fmt: skip

#: The dependencies come from this checkout's environment, seen through a folder of links that
#: leaves out modtriage itself (its editable install) and pip: the wheel has to
#: bring every file modtriage reads, and pip checks that the dependencies it declares are met.
_NOT_DEPENDENCIES = ("modtriage", "__editable__", "pip", "_distutils_hack")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _dependencies(into: Path) -> Path:
    into.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower()
        if not name.startswith(_NOT_DEPENDENCIES) and entry.suffix != ".pth":
            (into / entry.name).symlink_to(entry)
    return into


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` of a virtual environment holding the built wheel."""
    work = tmp_path_factory.mktemp("install")
    context = copy_context(work / "context")
    _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", work / "dist",
         context, cwd=work)  # fmt: skip
    [wheel] = (work / "dist").glob("modtriage-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/classifiers/model/model.onnx" in names
    assert "bot/policies/default.yaml" in names
    assert "bot/examples/conversation.jsonl" in names
    assert not [n for n in names if n.startswith("bot/classifiers/model/hf/")]  # vLLM's copy
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    [site] = venv.glob("lib/python3*/site-packages")
    (site / "dependencies.pth").write_text(f"{_dependencies(work / 'dependencies')}\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
         "--no-index", "--no-cache-dir", "--quiet", wheel, cwd=work)  # fmt: skip
    return venv / "bin"


def test_the_installed_package_is_the_wheel(installed: Path, tmp_path: Path) -> None:
    where = _run(installed / "python", "-c", "import bot; print(bot.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed.parent)


def test_modtriage_run_replays_the_sample_on_the_packaged_model(
    installed: Path, tmp_path: Path
) -> None:
    out = _run(installed / "modtriage", "run", cwd=tmp_path, env=_clean_env())
    assert "classifier embedded:modtriage-minilm-l6-moderation-int8@" in out
    assert "51 messages decided." in out
    assert "ACT hate · rules: hate (deny:faggot on 'f4gg0t'" in out
    assert "reply in thread: 'We support the Python versions" in out  # an FAQ answer
    if (ROOT / "bot" / "classifiers" / "stock" / "encoder.json").is_file():
        assert "FAQ matching falls back" not in out  # the stock encoder came in the wheel


async def test_an_installed_worker_decides_a_message_and_stops_cleanly(
    installed: Path, tmp_path: Path, redis_url: str, namespace: str
) -> None:
    worker = ServiceProcess(
        "worker", cwd=tmp_path, program=str(installed / "modtriage"),
        env={"REDIS_URL": redis_url, "MODTRIAGE_NAMESPACE": namespace,
             "MODTRIAGE_WORKER_PROCESSES": "1"},
    )  # fmt: skip
    redis = redis_client(redis_url)
    streams = Streams(namespace=namespace)
    try:
        assert await worker.answers("/readyz", 200, within_s=120) == {"ready": True}
        await Ingest(redis=redis, streams=streams).publish(SLUR)
        async with asyncio.timeout(60):
            while not (entries := await redis.xrange(streams.actions("console"))):
                await asyncio.sleep(0.05)
        assert {"delete", "warn"} <= {decode_action(i.decode(), f).type for i, f in entries}
        assert worker.stop() == 0
    finally:
        worker.stop()
        keys = [key async for key in redis.scan_iter(match=f"{streams.prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    assert "Traceback" not in worker.stderr()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODTRIAGE_")}
    env.pop("REDIS_URL", None)
    return env | {"COLUMNS": "200"}
