"""A rebuild touches only what it read: the clean-up of stale packages and the report of cards that
left the notes cover the books read without an error; other books' packages stay, in a library
built one folder at a time, with a broken file, with an old manifest; one build at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen.cli import app
from ankigen.fsutil import LOCK_NAME
from ankigen.manifest import MANIFEST_NAME

from .conftest import TIMESTAMP

CARD = "<details>\n<summary>{q}</summary>\n\n> Answer to {q}\n</details>\n"


def book(title: str, *chapters: list[str]) -> str:
    text = f"# {title}\n"
    for number, questions in enumerate(chapters, 1):
        text += f"## Chapter {number}/{len(chapters)}\n" + "".join(CARD.format(q=q) for q in questions)
    return text


def library(root: Path) -> dict[str, Path]:
    """Two subject folders with a README index page each (no cards) and two books each."""
    files = {
        "math/algebra.md": book("Algebra", ["Group?", "Ring?"], ["Field?"]),
        "math/topology.md": book("Topology", ["Open set?"], ["Compact?", "Connected?"]),
        "code/python.md": book("Python", ["List?", "Dict?"], ["Generator?"]),
        "code/rust.md": book("Rust", ["Borrow?"], ["Lifetime?", "Trait?"]),
        "math/README.md": "# Mathematics\n\nIndex of the math books.\n",
        "code/README.md": "# Code\n\nIndex of the code books.\n",
    }
    paths = {}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


def apkgs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.apkg"))}


def run_build(*paths: Path, out: Path, stamp: float) -> pipeline.BuildResult:
    result = pipeline.build(list(paths), out, jobs=1, timestamp=stamp)
    assert result.committed
    return result


def test_building_one_folder_keeps_the_other_folders_packages(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    files = library(notes)
    whole = run_build(notes, out=out, stamp=TIMESTAMP)
    assert len(whole.written) == 8
    before = apkgs(out)
    # Only the math folder, with one card deleted from it: the code books are not touched.
    files["math/algebra.md"].write_text(book("Algebra", ["Group?"], ["Field?"]), encoding="utf-8")
    subset = run_build(notes / "math", out=out, stamp=TIMESTAMP + 1)
    assert subset.removed == ()
    assert [(c.question, c.deck) for c in subset.gone] == [("Ring?", "Algebra::Chapter 01")]
    after = apkgs(out)
    assert set(after) == set(before)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["algebra-chapter-01.apkg", "algebra-chapter-02.apkg"]  # its Source lines moved
    # The manifest still knows the code books, so a build of that folder alone finds its deletions.
    files["code/rust.md"].write_text(book("Rust", ["Borrow?"]), encoding="utf-8")
    code = run_build(notes / "code", out=out, stamp=TIMESTAMP + 2)
    assert [p.name for p in code.removed] == ["rust-chapter-02.apkg"]
    assert sorted(c.question for c in code.gone) == ["Lifetime?", "Trait?"]
    # And a whole build after the subsets finds nothing more to remove or report.
    again = run_build(notes, out=out, stamp=TIMESTAMP + 3)
    assert again.removed == () and again.gone == ()
    assert len(apkgs(out)) == 7


def test_a_file_that_cannot_be_read_or_has_errors_keeps_its_packages(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    files = library(notes)
    run_build(notes, out=out, stamp=TIMESTAMP)
    before = apkgs(out)
    # Not UTF-8 any more (AG001): its two packages and three cards stay, unreported.
    files["math/topology.md"].write_bytes(b"# Topology\n\xff\xfe broken\n")
    # An unclosed card (AG101) in another book, which also lost a chapter: nothing of it is removed
    # or reported, since the error may hide cards that are still in the notes.
    files["code/rust.md"].write_text("# Rust\n## Chapter 1/2\n<details>\n<summary>Borrow?</summary>\n")
    # A clean book's deletion is still found.
    files["code/python.md"].write_text(book("Python", ["List?", "Dict?"]), encoding="utf-8")
    result = pipeline.build([notes], out, jobs=1, timestamp=TIMESTAMP + 1)
    assert {d.code for d in result.diagnostics if d.severity.value == "error"} == {"AG001", "AG101"}
    assert [p.name for p in result.removed] == ["python-chapter-02.apkg"]
    assert [c.question for c in result.gone] == ["Generator?"]
    after = apkgs(out)
    for name in ("topology-chapter-01.apkg", "topology-chapter-02.apkg", "rust-chapter-01.apkg"):
        assert after[name] == before[name]
    assert "rust-chapter-02.apkg" in after
    # Mended, the files are read again: now the real deletions are found, once.
    files["math/topology.md"].write_text(book("Topology", ["Open set?"]), encoding="utf-8")
    files["code/rust.md"].write_text(book("Rust", ["Borrow?"]), encoding="utf-8")
    mended = run_build(notes, out=out, stamp=TIMESTAMP + 2)
    assert sorted(p.name for p in mended.removed) == ["rust-chapter-02.apkg", "topology-chapter-02.apkg"]
    assert sorted(c.question for c in mended.gone) == ["Compact?", "Connected?", "Lifetime?", "Trait?"]


def test_renamed_title_replaces_the_books_packages_and_reports_its_cards(tmp_path: Path) -> None:
    """A card's identity is its book's title and its question: a new title makes new cards (and new
    decks); the old ones are reported gone and their packages removed."""
    notes, out = tmp_path / "notes", tmp_path / "dist"
    files = library(notes)
    run_build(notes, out=out, stamp=TIMESTAMP)
    files["math/algebra.md"].write_text(book("Abstract Algebra", ["Group?", "Ring?"], ["Field?"]))
    result = run_build(notes, out=out, stamp=TIMESTAMP + 1)
    assert sorted(p.name for p in result.removed) == ["algebra-chapter-01.apkg", "algebra-chapter-02.apkg"]
    assert sorted((c.deck, c.question) for c in result.gone) == [
        ("Algebra::Chapter 01", "Group?"),
        ("Algebra::Chapter 01", "Ring?"),
        ("Algebra::Chapter 02", "Field?"),
    ]
    assert {"abstract-algebra-chapter-01.apkg", "abstract-algebra-chapter-02.apkg"} <= set(apkgs(out))


def test_a_deleted_or_moved_notes_file(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    files = library(notes)
    run_build(notes, out=out, stamp=TIMESTAMP)
    # Moved within the notes: the same title, so the same packages and cards; nothing is lost.
    moved = notes / "archive" / "python-notes.md"
    moved.parent.mkdir()
    files["code/python.md"].rename(moved)
    result = run_build(notes, out=out, stamp=TIMESTAMP + 1)
    assert result.removed == () and result.gone == ()
    # Deleted from a folder this build reads: its packages go and its cards are reported.
    files["math/topology.md"].unlink()
    result = run_build(notes, out=out, stamp=TIMESTAMP + 2)
    assert sorted(p.name for p in result.removed) == ["topology-chapter-01.apkg", "topology-chapter-02.apkg"]
    assert len(result.gone) == 3
    # A file outside the folders this build reads is not its business, even when it is gone.
    files["code/rust.md"].unlink()
    result = run_build(notes / "math", out=out, stamp=TIMESTAMP + 3)
    assert result.removed == () and result.gone == ()
    assert "rust-chapter-01.apkg" in apkgs(out)


def test_an_older_manifest_never_causes_deletions(tmp_path: Path) -> None:
    """A version 2 manifest did not say which book made what: it gives the time and no clean-up."""
    notes, out = tmp_path / "notes", tmp_path / "dist"
    library(notes)
    out.mkdir()
    (out / "old-book-chapter-01.apkg").write_bytes(b"a package of an older build")
    old = {
        "version": 2,
        "timestamp": int(TIMESTAMP) + 50,
        "packages": {"old-book-chapter-01.apkg": "0" * 64},
        "cards": {"abc": {"question": "Old?", "deck": "Old Book::Chapter 01", "source": "x.md:3"}},
    }
    (out / MANIFEST_NAME).write_text(json.dumps(old), encoding="utf-8")
    result = pipeline.build([notes / "math"], out, jobs=1)
    assert result.committed and result.removed == () and result.gone == ()
    assert result.timestamp > TIMESTAMP + 50
    assert (out / "old-book-chapter-01.apkg").read_bytes() == b"a package of an older build"
    recorded = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert recorded["version"] == 3
    assert sorted(recorded["books"]) == [f"../notes/math/{name}.md" for name in ("README", "algebra", "topology")]
    assert recorded["books"]["../notes/math/algebra.md"]["packages"] == [
        "algebra-chapter-01.apkg",
        "algebra-chapter-02.apkg",
    ]


def test_gone_cards_report_a_count_the_first_few_and_all_with_verbose(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    notes.mkdir()
    path = notes / "many.md"
    questions = [f"Question {n}?" for n in range(1, 9)]
    path.write_text(book("Many", questions), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["build", str(notes), "--out", str(out), "-q"]).exit_code == 0
    path.write_text(book("Many", questions[:1]), encoding="utf-8")
    shown = runner.invoke(app, ["build", str(notes), "--out", str(out), "-q"])
    assert shown.exit_code == 0, shown.stderr
    assert "7 cards left the notes since the last build; Anki keeps imported cards, so delete these" in shown.stderr
    listed = [line for line in shown.stderr.splitlines() if line.startswith("  Many::Chapter 01: ")]
    assert listed == [f"  Many::Chapter 01: Question {n}?  (was {path}:{5 * n - 2})" for n in range(2, 7)]
    assert f'  ... and 2 more: all are listed with -v, and under "gone" in {out / MANIFEST_NAME}' in shown.stderr
    recorded = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert [card["question"] for card in recorded["gone"]] == questions[1:]
    # Reported once; the manifest keeps them until they come back to the notes.
    path.write_text(book("Many", questions[:2]), encoding="utf-8")
    verbose = runner.invoke(app, ["build", str(notes), "--out", str(out), "-v"])
    assert "left the notes" not in verbose.stderr
    recorded = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert [card["question"] for card in recorded["gone"]] == questions[2:]
    path.write_text(book("Many", []), encoding="utf-8")
    verbose = runner.invoke(app, ["build", str(notes), "--out", str(out), "-v"])
    assert "2 cards left the notes" in verbose.stderr and "more:" not in verbose.stderr
    assert verbose.stderr.count("  Many::Chapter 01: Question ") == 2


def test_a_second_build_into_the_folder_waits_for_the_first(tmp_path: Path) -> None:
    """Real processes: while one build holds the output folder, another says so and waits; it
    writes nothing until the first is done, then builds."""
    notes, out = tmp_path / "notes", tmp_path / "dist"
    library(notes)
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / LOCK_NAME)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    env = {**os.environ, "NO_COLOR": "1"}
    second = subprocess.Popen(
        [sys.executable, "-m", "ankigen", "build", str(notes), "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        time.sleep(3)  # long enough for an unlocked build of 4 small books to have written them
        assert second.poll() is None
        assert apkgs(out) == {}
    finally:
        holder.terminate()
        holder.communicate(timeout=60)
    stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert stderr == f"waiting for another ankigen build into {out}/ ...\n"
    assert "Wrote 8 packages" in stdout


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


def test_builds_of_different_notes_into_one_folder_at_once_never_mix(tmp_path: Path) -> None:
    """Two versions of a library built into one folder at the same time, twice over: at the end
    every package is from the same build as the manifest, which names every package in the folder."""
    out = tmp_path / "dist"
    sources = []
    for version in ("one", "two"):
        folder = tmp_path / version
        for n in range(12):
            path = folder / f"book-{n}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            questions = [f"Q{n}-{k} {version}?" for k in range(20)]
            path.write_text(book(f"Book {n}", questions[:10], questions[10:]), encoding="utf-8")
        sources.append(folder)
    args = [sys.executable, "-m", "ankigen", "build", "-q", "--no-cache", "--jobs", "2", "--out", str(out)]
    processes = [subprocess.Popen([*args, str(sources[i % 2])], stderr=subprocess.PIPE) for i in range(4)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
    recorded = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    on_disk = set(apkgs(out))
    assert set(recorded["packages"]) == on_disk
    versions = set()
    for name in on_disk:
        from ankigen.apkginfo import read_package

        for note in read_package(out / name).notes:
            versions.add(dict(note.fields)["Question"].split()[-1])
    assert len(versions) == 1, versions
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_build_removes_the_temporary_files_a_killed_build_left_and_nothing_else(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    library(notes)
    out.mkdir()
    left = [".algebra-chapter-01.apkg.k2_9xq0a.tmp", "..ankigen-manifest.json.a1b2c3d4.tmp"]
    others = [".notes.tmp", "draft.apkg.tmp", ".mine.apkg.tmp", ".mine.apkg.toolong123.tmp", "mine.apkg"]
    for name in left + others:
        (out / name).write_bytes(b"x")
    run_build(notes, out=out, stamp=TIMESTAMP)
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".apkg" or p.name == "mine.apkg") == sorted(
        [*others, MANIFEST_NAME, LOCK_NAME]
    )
