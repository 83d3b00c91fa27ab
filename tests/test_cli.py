"""The command line: exit codes, one-line errors with file:line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ankigen import __version__
from ankigen.cli import app

from .conftest import REPO, SEED

runner = CliRunner()

GOOD = "# Book\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n\n> A\n</details>\n"


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"ankigen {__version__}"


def test_build_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    out_dir = tmp_path / "new" / "dist"  # a missing output folder is created
    code, out, err = run("build", "--out", str(out_dir), "-v")
    assert code == 0, err
    assert sorted(p.name for p in out_dir.glob("*.apkg")) == [
        "learning-ebpf-chapter-01.apkg",
        "learning-ebpf-chapter-02.apkg",
    ]
    assert f"Wrote 2 packages (2 decks, 9 cards) from 1 book to {out_dir}/; 1 warning" in out
    assert "seeds/learning-ebpf.md:2:1: warning AG108 image 'covers/9781098135126.jpg' not found" in err
    assert err.count("AG113") == 1  # the 9 empty chapters: one notice line
    assert "skipped 9 empty sections" in err


def test_quiet_hides_notices(tmp_path: Path) -> None:
    code, _, err = run("build", str(SEED), "--out", str(tmp_path), "-q")
    assert code == 0 and "AG113" not in err and "AG108" in err


def test_strict_fails_on_warnings_and_writes_nothing(tmp_path: Path) -> None:
    code, _, err = run("build", str(SEED), "--out", str(tmp_path / "dist"), "--strict")
    assert code == 1
    assert "--strict: 1 warning; nothing written" in err
    assert not (tmp_path / "dist").exists()


def test_errors_exit_1_but_good_files_still_build(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.md").write_text(GOOD, encoding="utf-8")
    (notes / "broken.md").write_text(
        "# Broken\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n> A\n", encoding="utf-8"
    )
    (notes / "latin1.md").write_bytes(b"# Caf\xe9\n")
    code, out, err = run("build", str(notes), "--out", str(tmp_path / "dist"))
    assert code == 1
    lines = err.strip().splitlines()
    assert any(line.endswith("broken.md:3:1: error AG101 <details> is never closed") for line in lines), lines
    assert any("latin1.md:1:1: error AG001 not UTF-8" in line for line in lines), lines
    assert [p.name for p in (tmp_path / "dist").glob("*.apkg")] == ["book-chapter-01.apkg"]
    assert "2 errors" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "does/not/exist.md"], "does/not/exist.md: no such file or folder"),
        (["build", "--out"], "requires an argument"),
        (["build", "--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert message in out + err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    """Reading a pipe would wait for a writer that never comes: the build would hang."""
    pipe = tmp_path / "notes.md"
    os.mkfifo(pipe)
    result = subprocess.run(
        [sys.executable, "-m", "ankigen", "build", str(pipe), "--out", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == f"error: {pipe}: not a regular file (a notes file must be one)"


def test_empty_folder_exits_2(tmp_path: Path) -> None:
    code, _, err = run("build", str(tmp_path))
    assert code == 2 and f"{tmp_path}: no .md files in this folder" in err


def test_unwritable_output_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run("build", str(SEED), "--out", str(blocker / "dist"))
    assert code == 2 and "cannot create the output folder" in err


def test_bad_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    code, _, err = run("build", str(SEED), "--out", str(tmp_path))
    assert code == 2 and "SOURCE_DATE_EPOCH must be a whole number" in err


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    module = subprocess.run(
        [sys.executable, "-m", "ankigen", "build", str(SEED), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert module.returncode == 0, module.stderr
    assert "Wrote 2 packages (2 decks, 9 cards)" in module.stdout
    script = Path(sys.executable).with_name("ankigen")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and version.stdout.strip() == f"ankigen {__version__}"


def test_rebuild_lists_cards_that_left_the_notes(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    card = "<details>\n<summary>{q}</summary>\n\n> A\n</details>\n"
    notes.write_text("# Book\n## Chapter 1/1\n" + card.format(q="Stays?") + card.format(q="Goes?"), encoding="utf-8")
    assert run("build", str(notes), "--out", str(tmp_path / "dist"))[0] == 0
    notes.write_text("# Book\n## Chapter 1/1\n" + card.format(q="Stays?"), encoding="utf-8")
    code, _, err = run("build", str(notes), "--out", str(tmp_path / "dist"))
    assert code == 0
    assert "1 card left the notes since the last build" in err
    assert f"  Book::Chapter 01: Goes?  (was {notes}:8)" in err
