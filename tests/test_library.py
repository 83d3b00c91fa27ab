"""A generated library of 150+ files (tests/library.py), built as the CLI builds it: every card the
generator wrote is in a package (found by its Source field) or named by an error or warning with its
file and line, ``Wrote N packages`` is the number of files on disk, and Anki imports it all cleanly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen.apkginfo import read_package
from ankigen.cli import app
from ankigen.model import Severity

from .conftest import TIMESTAMP, AnkiCollection
from .library import TOPICS, Library, generate

runner = CliRunner()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    return generate(tmp_path_factory.mktemp("library"))


@pytest.fixture(scope="module")
def built(library: Library, tmp_path_factory: pytest.TempPathFactory) -> tuple[pipeline.BuildResult, Path]:
    out_dir = tmp_path_factory.mktemp("dist")
    return pipeline.build([library.root], out_dir, jobs=2, timestamp=TIMESTAMP), out_dir


def where(text: str) -> tuple[Path, int]:
    """``path:line`` -> the file and the line."""
    path, line = text.rsplit(":", 1)
    return Path(path).resolve(), int(line)


def packaged(out_dir: Path) -> dict[str, list[tuple[Path, int]]]:
    """Each package's file name -> where its notes' cards came from (their Source field)."""
    return {
        apkg.name: [where(dict(note.fields)["Source"]) for note in read_package(apkg).notes]
        for apkg in sorted(out_dir.glob("*.apkg"))
    }


def test_the_library_is_large_and_messy(library: Library) -> None:
    assert len(library.files) >= 150
    assert sum(1 for p in library.files if p.name == "README.md") == len(TOPICS)
    assert {same for _, same in library.copies.values()} == {True, False}
    assert library.unreadable and library.slug_alike
    kinds = {card.kind for card in library.cards}
    assert kinds == {"good", "unclosed-summary", "unclosed-details", "no-summary", "empty-answer"}
    assert generate(library.root.parent / "again").cards[-1].question == library.cards[-1].question


def test_every_card_is_in_a_package_or_named(library: Library, built: tuple[pipeline.BuildResult, Path]) -> None:
    result, out_dir = built
    packages = packaged(out_dir)
    sources = [source for notes in packages.values() for source in notes]
    assert len(sources) == len(set(sources)) == result.cards
    found = set(sources)
    named = {
        (Path(d.loc.path).resolve(), d.loc.line): d.code
        for d in result.diagnostics
        if d.severity is not Severity.NOTICE
    }
    notices = {(Path(d.loc.path).resolve(), d.loc.line): d.code for d in result.diagnostics}
    unaccounted = []
    for card in library.cards:
        at = (card.path.resolve(), card.line)
        if card.path in library.copies:  # left out whole, with one line on the file that says so
            kept, same = library.copies[card.path]
            assert notices.get((card.path.resolve(), 1)) == ("AG116" if same else "AG112"), card
            assert at not in found
            if same:  # the same card, from the copy that is built
                assert (kept.resolve(), card.line) in found, card
            continue
        if card.path in library.unreadable:
            assert "AG001" in {code for (path, _), code in named.items() if path == at[0]}, card
            continue
        if card.kind in ("unclosed-details", "no-summary"):  # left out, and named at its line
            assert at not in found and named.get(at) in ("AG101", "AG102"), card
        elif card.kind == "unclosed-summary":  # built, and named
            assert at in found and named.get((card.path.resolve(), card.line + 1)) == "AG117", card
        elif card.kind == "empty-answer":
            assert at in found and named.get(at) == "AG104", card
        elif at not in found:
            unaccounted.append(card)
    assert unaccounted == []
    written = {(c.path.resolve(), c.line) for c in library.cards}
    assert found <= written  # and nothing else reached a deck
    # Titles that slug alike each have their packages; sections named alike are one deck.
    books = {d.loc.path for d in result.diagnostics if d.code == "AG115"}
    assert len([d for d in result.diagnostics if d.code == "AG115"]) == 2 * len(TOPICS) == 2 * len(books)
    assert len([d for d in result.diagnostics if d.code == "AG116"]) == sum(s for _, s in library.copies.values())
    assert len(result.written) == len(packages) == len(list(out_dir.glob("*.apkg")))
    assert {p.name for p in out_dir.iterdir() if p.suffix != ".apkg"} == {".ankigen-manifest.json", ".ankigen.lock"}


def test_the_cli_writes_what_it_says(
    library: Library, built: tuple[pipeline.BuildResult, Path], tmp_path: Path
) -> None:
    result, out_dir = built
    outcome = runner.invoke(app, ["build", str(library.root), "--out", str(tmp_path / "dist"), "--jobs", "2"])
    assert outcome.exit_code == 1, outcome.output  # the library holds errors; everything good is written
    match = re.search(r"^Wrote (\d+) packages \((\d+) decks, (\d+) cards\) from (\d+) books", outcome.stdout, re.M)
    assert match, outcome.stdout
    on_disk = sorted(p.name for p in (tmp_path / "dist").glob("*.apkg"))
    assert int(match.group(1)) == len(on_disk) == len(result.written)
    assert on_disk == sorted(p.name for p in out_dir.glob("*.apkg"))
    assert (int(match.group(3)), int(match.group(4))) == (result.cards, result.books)
    listed = runner.invoke(app, ["list", str(library.root), "--json"])
    books = json.loads(listed.stdout)["books"]
    assert (sum(b["cards"] for b in books), len(books)) == (result.cards, result.books)


def test_a_subset_build_names_its_packages_as_the_whole_build(
    library: Library, built: tuple[pipeline.BuildResult, Path], tmp_path: Path
) -> None:
    _, out_dir = built
    whole = packaged(out_dir)
    for topic in ("cpp", "c", "docker"):
        pipeline.build([library.root / "subjects" / topic], tmp_path / topic, jobs=1, timestamp=TIMESTAMP)
        part = packaged(tmp_path / topic)
        assert part and all(whole.get(name) == sources for name, sources in part.items()), topic


def test_anki_imports_the_library_cleanly(built: tuple[pipeline.BuildResult, Path], tmp_path: Path) -> None:
    result, out_dir = built
    collection = AnkiCollection(tmp_path / "collection.anki2")
    try:
        imported = collection.import_packages(out_dir.glob("*.apkg"))
        assert imported.problems() == {}
        assert imported.new == result.cards == collection.col.note_count()  # type: ignore[attr-defined]
    finally:
        collection.close()
