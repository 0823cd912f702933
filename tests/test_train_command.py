"""``modtriage train`` never silently replaces the heads the bot uses (issue 16): it prints its
validation beside theirs on the same held-out rows and refuses to write worse heads where the
bot loads them unless ``--force``. Tiny heads from the policy and written rows keep it cheap."""

from __future__ import annotations

import re
from pathlib import Path

from bot.classifiers.embedded import PACKAGED_HEADS
from tests.test_cli import modtriage

TINY = ("train", "--no-public", "--epochs", "1", "--hidden", "0")
FIGURES = re.compile(
    r"^flagged F1 on all validation rows: (\d\.\d{3}) these heads, (\d\.\d{3}) the heads in "
    r"use \((.+)\)$",
    re.MULTILINE,
)


def figures(stdout: str) -> tuple[float, float, str]:
    found = FIGURES.search(stdout)
    assert found is not None, stdout
    return float(found[1]), float(found[2]), found[3]


def test_worse_heads_are_refused_unless_forced_and_better_ones_replace_them(
    tmp_path: Path,
) -> None:
    stem = tmp_path / "data" / "heads" / "default"

    refused = modtriage(*TINY, tmp_path=tmp_path)
    new, in_use, where = figures(refused.stdout)
    assert where == str(PACKAGED_HEADS)  # nothing trained yet: the bot runs the shipped heads
    assert new < in_use
    assert re.search(r"^│ all +│ +\d+ │", refused.stdout, re.MULTILINE)  # the figure's row
    assert refused.stderr == (
        f"error: not writing {stem}: these heads validate worse than the ones in use (flagged "
        f"F1 {new:.3f} < {in_use:.3f}); pass --force to use them anyway, or --out to write "
        "them elsewhere\n"
    )
    assert refused.returncode == 2
    assert not (tmp_path / "data" / "heads").exists()

    forced = modtriage(*TINY, "--force", tmp_path=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert re.search(rf"^wrote {re.escape(str(stem))}\.npz/\.json in ", forced.stdout, re.M)
    assert stem.with_suffix(".npz").is_file()

    better = modtriage("train", "--no-public", tmp_path=tmp_path)  # the default MLP, 30 epochs
    new, in_use, where = figures(better.stdout)
    assert where == str(stem)  # now the bot runs the forced heads
    assert new >= in_use
    assert better.returncode == 0, better.stderr
    assert f"wrote {stem}.npz/.json in " in better.stdout
