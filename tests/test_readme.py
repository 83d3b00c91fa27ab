"""The README's two commands, run as written on a clean copy of the project (as a new user would)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, REQUIRE_ALL
from .readme import command

# The test command runs this whole suite again inside the copy; there, this test stands down.
INNER = "ANKIGEN_README_INNER"


def clean_copy(target: Path) -> Path:
    """The project's files as a fresh clone has them: what git tracks or would track."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


@pytest.mark.skipif(bool(os.environ.get(INNER)), reason="already inside the README test's own run")
def test_readme_commands_work_on_a_clean_copy(tmp_path: Path) -> None:
    project = clean_copy(tmp_path / "ankigen")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", REQUIRE_ALL)}
    env[INNER] = "1"

    built = subprocess.run(
        ["bash", "-c", command("build")], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert sorted(p.name for p in (project / "dist").glob("*.apkg")) == [
        "learning-ebpf-chapter-01.apkg",
        "learning-ebpf-chapter-02.apkg",
    ]
    assert "Wrote 2 packages (2 decks, 9 cards)" in built.stdout

    tested = subprocess.run(
        ["bash", "-c", command("test")], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    assert " passed" in tested.stdout and " failed" not in tested.stdout
