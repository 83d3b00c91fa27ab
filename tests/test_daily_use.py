"""Daily use: list, inspect, split modes, configuration, verbosity and colour, watch, the wheel."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ankigen.cli import app

from .conftest import REPO, SEED, AnkiCollection

runner = CliRunner()
CARD = "<details>\n<summary>{q}</summary>\n\n> {a}\n</details>\n"
BOOK = "# {title}\n\n## Chapter 1/2 <sup>(published)</sup>\n\n{one}\n## Chapter 2/2\n\n{two}"


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def notes(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    for name, title in (("a.md", "Book A"), ("b.md", "Book B")):
        (folder / name).write_text(
            BOOK.format(
                title=title,
                one=CARD.format(q=f"{title} one?", a="1") + CARD.format(q=f"{title} two?", a="2"),
                two=CARD.format(q=f"{title} three?", a="3"),
            ),
            encoding="utf-8",
        )
    return folder


def test_list_table_and_json(tmp_path: Path) -> None:
    folder = notes(tmp_path)
    code, out, _ = cli("list", str(folder))
    assert code == 0
    assert "Book A" in out and "Chapter 01" in out and "published" in out
    assert out.strip().splitlines()[-1] == "2 books, 6 cards"
    code, out, _ = cli("list", str(folder), "--json")
    data = json.loads(out)
    assert [b["title"] for b in data["books"]] == ["Book A", "Book B"]
    assert data["books"][0]["chapters"] == [
        {"name": "Chapter 01", "status": "published", "cards": 2, "line": 3},
        {"name": "Chapter 02", "status": None, "cards": 1, "line": 16},
    ]


def test_inspect_a_package(tmp_path: Path) -> None:
    out_dir = tmp_path / "dist"
    assert cli("build", str(SEED), "--out", str(out_dir))[0] == 0
    package = out_dir / "learning-ebpf-chapter-02.apkg"
    code, out, _ = cli("inspect", str(package))
    assert code == 0
    assert "deck 'Learning eBPF::Chapter 02'" in out and ": 5 cards" in out
    assert (
        "notetype 'ankigen' (id 1894536271): fields Question, Answer, Resources, References, Book, Chapter, Source"
        in out
    )
    code, out, _ = cli("inspect", str(package), "--note", "2")
    assert "Question: What capabilities are required for eBPF programs to run?" in out
    code, out, _ = cli("inspect", str(package), "--json")
    data = json.loads(out)
    assert len(data["notes"]) == 5 and data["notetypes"][0]["templates"] == ["Card 1"]
    code, _, err = cli("inspect", str(package), "--note", "9")
    assert code == 2 and "the package has 5 notes" in err
    bogus = tmp_path / "bogus.apkg"
    bogus.write_text("not a zip")
    code, _, err = cli("inspect", str(bogus))
    assert code == 2 and f"{bogus}: not a readable .apkg" in err


@pytest.mark.parametrize(
    ("split", "files"),
    [
        (
            "chapter",
            ["book-a-chapter-01.apkg", "book-a-chapter-02.apkg", "book-b-chapter-01.apkg", "book-b-chapter-02.apkg"],
        ),
        ("book", ["book-a.apkg", "book-b.apkg"]),
        ("all", ["decks.apkg"]),
    ],
)
def test_split_modes_import_the_same_decks(
    tmp_path: Path, anki_collection: AnkiCollection, split: str, files: list[str]
) -> None:
    out_dir = tmp_path / "dist"
    code, out, _ = cli("build", str(notes(tmp_path)), "--out", str(out_dir), "--split", split)
    assert code == 0, out
    assert sorted(p.name for p in out_dir.glob("*.apkg")) == files
    imported = anki_collection.import_packages(out_dir.glob("*.apkg"))
    assert imported.new == 6 and imported.problems() == {}
    names = {d.name for d in imported.col.decks.all_names_and_ids()}  # type: ignore[attr-defined]
    assert {"Book A::Chapter 01", "Book A::Chapter 02", "Book B::Chapter 01", "Book B::Chapter 02"} <= names


def test_configuration_in_pyproject_and_flags_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = notes(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "my-notes"\n\n[tool.ankigen]\nsources = ["notes"]\nout = "decks"\nsplit = "book"\n'
        'deck-name = "Study::{book}::{chapter}"\ntags = ["cs", "exam-2027"]\n'
        'light-theme = "friendly"\ndark-theme = "monokai"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("build")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "decks").glob("*.apkg")) == ["book-a.apkg", "book-b.apkg"]
    code, out, _ = cli("inspect", "decks/book-a.apkg", "--json")
    data = json.loads(out)
    assert [d["name"] for d in data["decks"]] == ["Study::Book A::Chapter 01", "Study::Book A::Chapter 02"]
    assert {"cs", "exam-2027", "ankigen"} <= set(data["notes"][0]["tags"])
    # A flag wins over the file.
    code, _, _ = cli("build", "--split", "chapter", "--out", "other", str(folder / "a.md"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "other").glob("*.apkg")) == [
        "book-a-chapter-01.apkg",
        "book-a-chapter-02.apkg",
    ]


def test_ankigen_toml_and_its_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "ankigen.toml"
    config.write_text('sources = "notes"\nout = "built"\n', encoding="utf-8")
    assert cli("build")[0] == 0 and (tmp_path / "built").is_dir()
    for text, message in (
        ('sources = "notes"\nsplitt = "book"\n', "ankigen.toml: unknown key 'splitt'"),
        ('split = "chapters"\n', "ankigen.toml: 'split' must be one of chapter, book, all"),
        ("jobs = 0\n", "ankigen.toml: 'jobs' must be a whole number"),
        ('deck-name = "{book}::{part}"\n', "may use only {book} and {chapter}"),
        ('light-theme = "no-such-style"\n', "no Pygments style 'no-such-style'"),
        ("sources = [\n", "ankigen.toml: not valid TOML"),
    ):
        config.write_text(text, encoding="utf-8")
        code, _, err = cli("build")
        assert code == 2, text
        assert message in err and len(err.strip().splitlines()) == 1, err
    config.unlink()
    config.mkdir()  # a folder by the configuration's name is a mistake, not "no configuration"
    code, _, err = cli("build")
    assert code == 2 and "ankigen.toml: not a file" in err and len(err.strip().splitlines()) == 1, err


def test_unknown_key_in_pyproject_names_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ankigen]\noutput = 'x'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("check")
    assert code == 2 and "pyproject.toml: [tool.ankigen]: unknown key 'output'" in err


def test_bad_flags_exit_2(tmp_path: Path) -> None:
    for args, message in (
        (["--split", "pages"], "Invalid value for '--split'"),
        (["--tag", "two words"], "--tag: 'two words' is not a tag"),
        (["--dark-theme", "nope"], "no Pygments style 'nope'"),
        (["--jobs", "0"], "Invalid value for '--jobs'"),
    ):
        code, out, err = cli("build", str(SEED), "--out", str(tmp_path / "d"), *args)
        assert code == 2 and message in out + err, (args, out, err)


def test_quiet_verbose_and_plain_output(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "ankigen", "build", str(SEED), "--out", str(tmp_path / "d")]
    env = {**os.environ, "FORCE_COLOR": "1", "NO_COLOR": "1"}
    verbose = subprocess.run([*base, "-v"], capture_output=True, text=True, env=env, check=False)
    assert verbose.returncode == 0
    assert f"wrote {tmp_path / 'd' / 'learning-ebpf-chapter-01.apkg'}" in verbose.stderr
    assert "AG113" in verbose.stderr
    assert "\x1b[" not in verbose.stdout + verbose.stderr  # NO_COLOR wins even over FORCE_COLOR
    quiet = subprocess.run([*base, "-q"], capture_output=True, text=True, check=False)
    assert "AG113" not in quiet.stderr and "AG108" in quiet.stderr and "wrote " not in quiet.stderr
    assert "\x1b[" not in quiet.stdout + quiet.stderr  # piped: plain text


def test_watch_rebuilds_on_change_until_interrupted(tmp_path: Path) -> None:
    folder = notes(tmp_path)
    out_dir = tmp_path / "dist"
    process = subprocess.Popen(
        [sys.executable, "-m", "ankigen", "build", str(folder), "--out", str(out_dir), "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True)
    reader.start()

    def wait_for(text: str, *, touch: Path | None = None) -> None:
        deadline = time.monotonic() + 60
        while not any(text in line for line in seen):
            assert time.monotonic() < deadline and process.poll() is None, seen
            if touch is not None:  # the watcher may start after the first write: write again
                touch.write_text(touch.read_text(encoding="utf-8") + "\n", encoding="utf-8")
            try:
                seen.append(lines.get(timeout=2))
            except queue.Empty:
                continue

    try:
        wait_for("watching")
        edited = folder / "a.md"
        edited.write_text(edited.read_text(encoding="utf-8").replace("> 1", "> one, edited"), encoding="utf-8")
        wait_for("Wrote 1 package, 3 unchanged", touch=edited)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    while not lines.empty():
        seen.append(lines.get())
    assert process.returncode == 0, seen
    assert any("stopped watching" in line for line in seen), seen


def test_shell_completion_script() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ankigen")), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "_ANKIGEN_COMPLETE" in result.stdout


def test_the_wheel_carries_its_theme(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = tmp_path.glob("ankigen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("card.css", "front.html", "back.html", "preview.css", "preview.js"):
        assert f"ankigen/theme/{data}" in names
    assert "ankigen/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ankigen = ankigen.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_every_build_flag_reaches_the_decks(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('tags = ["from-config"]\n', encoding="utf-8")
    cache = tmp_path / "cache"
    code, _, err = cli(
        "build", str(SEED), "--out", str(tmp_path / "d"), "--deck-name", "Kernel::{book}::{chapter}",
        "--tag", "one", "--tag", "two", "--light-theme", "friendly", "--dark-theme", "monokai", "--jobs", "1",
        "--cache-dir", str(cache), "--config", str(config), "--root", str(REPO),
    )  # fmt: skip
    assert code == 0, err
    assert list(cache.rglob("*.json")), "the render cache went to --cache-dir"
    code, out, _ = cli("inspect", str(tmp_path / "d" / "learning-ebpf-chapter-01.apkg"), "--json")
    data = json.loads(out)
    assert [d["name"] for d in data["decks"]] == ["Kernel::Learning eBPF::Chapter 01"]
    assert {"one", "two", "from-config"} <= set(data["notes"][0]["tags"])
    with zipfile.ZipFile(tmp_path / "d" / "learning-ebpf-chapter-01.apkg") as archive:
        (tmp_path / "col.db").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col.db") as db:
        css = json.loads(db.execute("select models from col").fetchone()[0])["1894536271"]["css"]
    light, night = css.split("/* Pygments: night */")
    assert "#f0f0f0" in light.lower()  # friendly's background
    assert "#272822" in night.lower()  # monokai's background


def test_preview_command(tmp_path: Path) -> None:
    code, out, _ = cli("preview", str(SEED), "--out", str(tmp_path / "site"), "-q")
    assert code == 0
    assert f"Wrote a preview of 2 decks (9 cards): {tmp_path / 'site' / 'index.html'}" in out
    page = (tmp_path / "site" / "learning-ebpf-chapter-02.html").read_text(encoding="utf-8")
    assert page.count('class="ag-pair"') == 5 and '<link rel="stylesheet" href="card.css">' in page
    assert (tmp_path / "site" / "card.css").read_text(encoding="utf-8").startswith("/* ankigen card style.")
