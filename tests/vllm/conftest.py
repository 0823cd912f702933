"""Real vLLM servers (the CPU build), started once per test session on loopback.

The first run builds ``.cache/vllm-venv`` (about 1.5 min and 2.5 GB, then reused while its
stamp matches), trains the tiny Llama's tokenizer and saves its random weights (seconds), and
starts two servers pinned to one core each: the tiny Llama with structured outputs and the
project's fine-tuned encoder (``bot/classifiers/model/hf``) on ``/v1/embeddings``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.vllm.proxy import RecordingProxy
from tests.vllm.servers import (
    DEFAULT_VENV,
    TUNED_HF,
    VllmServer,
    build_tiny_llama,
    ensure_venv,
    llama_args,
    minilm_args,
)

LLAMA = "tiny-llama"
MINILM = "modtriage-minilm-l6-moderation"


@dataclass
class Servers:
    python: Path
    llama: VllmServer
    minilm: VllmServer


@pytest.fixture(scope="session")
def vllm_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    venv = Path(os.environ.get("MODTRIAGE_TEST_VLLM_VENV", DEFAULT_VENV))
    python = ensure_venv(venv)
    home = tmp_path_factory.mktemp("vllm")
    model = build_tiny_llama(python, home / "tiny-llama")
    servers = Servers(
        python=python,
        llama=VllmServer(python=python, model=model, name=LLAMA, home=home / "llama",
                         args=llama_args(), core=0),
        minilm=VllmServer(python=python, model=TUNED_HF, name=MINILM,
                          home=home / "minilm", args=minilm_args(), core=1),
    )  # fmt: skip
    try:
        servers.llama.launch()
        servers.minilm.launch()
        servers.llama.wait_ready()
        servers.minilm.wait_ready()
        yield servers
    finally:
        servers.llama.stop()
        servers.minilm.stop()


@pytest.fixture
def llama(vllm_servers: Servers) -> VllmServer:
    """The tiny Llama server, restarted first if an earlier test killed it."""
    if not vllm_servers.llama.alive:
        vllm_servers.llama.start()
    return vllm_servers.llama


@pytest.fixture
def minilm(vllm_servers: Servers) -> VllmServer:
    if not vllm_servers.minilm.alive:
        vllm_servers.minilm.start()
    return vllm_servers.minilm


@pytest.fixture
async def llama_proxy(llama: VllmServer) -> AsyncIterator[RecordingProxy]:
    """What the tiny Llama receives and answers, recorded."""
    async with RecordingProxy(upstream=llama.url) as proxy:
        yield proxy
