"""Notes from others are input, not code: no field carries live HTML, no image comes from outside
the notes, and the cache holds data that cannot run."""

from __future__ import annotations

import ast
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen import cache
from ankigen.apkginfo import read_package
from ankigen.cli import app
from ankigen.model import Extracted
from ankigen.preview import write_site

from .conftest import REPO, TIMESTAMP, AnkiCollection

runner = CliRunner()
CARD = "<details>\n<summary>{q}</summary>\n\n> {a}\n</details>\n"


class _Live(HTMLParser):
    """Every element and event attribute an HTML string holds, and its visible text (an oracle
    that shares nothing with ankigen's sanitizer)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.events: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.events += [f"{tag} {name}" for name, _ in attrs if name.lower().startswith("on")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(fragment: str) -> _Live:
    parser = _Live()
    parser.feed(fragment)
    parser.close()
    return parser


def assert_inert(fragment: str, *, allowed_scripts: int = 0) -> None:
    found = parsed(fragment)
    assert found.events == [], found.events
    assert found.tags.count("script") == allowed_scripts, found.tags
    assert not {"img", "iframe", "object", "embed", "svg"} & set(found.tags), found.tags  # the notes have no image


HOSTILE_TITLE = "Tom &lt;img src=x onerror=alert(1)&gt;"
HOSTILE_SECTION = "Part &lt;script&gt;alert(2)&lt;/script&gt; &amp; <b>more</b>"


def test_titles_section_names_and_file_names_reach_every_field_as_text(
    tmp_path: Path, anki_collection: AnkiCollection
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    # A file name may hold markup too: it reaches the Source field and the deck description.
    source = notes / "x<b onmouseover=alert(3)>y.md"
    source.write_text(f"# {HOSTILE_TITLE}\n\n## {HOSTILE_SECTION}\n\n" + CARD.format(q="Q?", a="A"), encoding="utf-8")
    result = pipeline.build([notes], tmp_path / "dist", jobs=1, timestamp=TIMESTAMP)
    assert result.committed and [d.code for d in result.diagnostics] == []
    imported = anki_collection.import_packages(result.written)
    assert imported.new == 1 and imported.problems() == {}
    col = imported.col
    [card_id] = col.find_cards("")  # type: ignore[attr-defined]
    card = col.get_card(card_id)  # type: ignore[attr-defined]
    title = "Tom <img src=x onerror=alert(1)>"
    section = "Part <script>alert(2)</script> & more"
    for side in (card.question(), card.answer()):
        assert_inert(side)
    shown = "".join(parsed(card.answer()).text)
    assert f"{title} · {section}" in shown  # the reader sees what GitHub shows: the title as text
    note = card.note()
    assert "".join(parsed(note["Source"]).text) == f"{pipeline.display_path(source)}:5"
    assert_inert(note["Source"])
    description = col.decks.get(card.did)["desc"]  # type: ignore[attr-defined]
    assert_inert(description)
    assert title in "".join(parsed(description).text)

    # The preview shows the same text, and holds no live element but its own script.
    planned = pipeline.plan([notes])
    site = write_site(planned.decks, tmp_path / "preview")
    for page in (site.index, *site.pages):
        assert_inert(page.read_text(encoding="utf-8"), allowed_scripts=1)
    page = parsed(site.pages[0].read_text(encoding="utf-8"))
    assert f"{title} · {section}" in "".join(page.text)
    assert "".join(parsed(note["Source"]).text) in "".join(page.text)


def _layout(tmp_path: Path) -> Path:
    """``a/secret.png`` two levels above ``a/b/notes``, whose card names it."""
    notes = tmp_path / "a" / "b" / "notes"
    notes.mkdir(parents=True)
    (tmp_path / "a" / "secret.png").write_bytes(b"\x89PNG secret")
    (notes / "inside.png").write_bytes(b"\x89PNG inside")
    card = CARD.format(q="Q?", a='<img src="../../secret.png"> and <img src="inside.png">')
    (notes / "book.md").write_text("# Book\n\n" + card, encoding="utf-8")
    return notes


def _media(out: Path) -> list[bytes]:
    media = []
    for apkg in sorted(out.glob("*.apkg")):
        with zipfile.ZipFile(apkg) as archive:
            media += [archive.read(name) for name in archive.namelist() if name.isdigit()]
    return media


@pytest.mark.parametrize("named", ["a/b/notes", "a/b/notes/book.md"])
def test_images_never_come_from_above_the_notes_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    _layout(tmp_path)
    monkeypatch.chdir(tmp_path)  # the current folder holds the secret, two levels above the notes
    result = runner.invoke(app, ["build", named, "--out", "dist", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "a/b/notes/book.md:6:1: warning AG109 image '../../secret.png' is outside the notes folder" in result.stderr
    assert _media(tmp_path / "dist") == [b"\x89PNG inside"]


def test_root_still_widens_where_images_may_come_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _layout(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build", "a/b/notes", "--out", "dist", "--no-cache", "--root", "a"])
    assert result.exit_code == 0 and "AG109" not in result.stderr, result.output
    assert sorted(_media(tmp_path / "dist")) == [b"\x89PNG inside", b"\x89PNG secret"]


def test_in_a_git_work_tree_images_may_come_from_anywhere_in_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "covers").mkdir()
    (repo / "covers" / "c.png").write_bytes(b"\x89PNG cover")
    (tmp_path / "outside.png").write_bytes(b"\x89PNG outside")
    notes = repo / "subjects" / "x"
    notes.mkdir(parents=True)
    card = CARD.format(q="Q?", a='<img src="../../covers/c.png"> <img src="../../../outside.png">')
    (notes / "book.md").write_text("# Book\n\n" + card, encoding="utf-8")
    result = pipeline.build([notes], tmp_path / "dist", jobs=1, timestamp=TIMESTAMP)
    assert [d.code for d in result.diagnostics] == ["AG109"]
    assert _media(tmp_path / "dist") == [b"\x89PNG cover"]


class _Trap:
    """Unpickling this creates a file: proof that loading the cache ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_a_planted_cache_file_never_runs_code(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "book.md").write_text("# Book\n\n" + CARD.format(q="Q?", a="the `answer`"), encoding="utf-8")
    folder = tmp_path / "cache"

    def answer() -> str:
        result = pipeline.build([notes], tmp_path / "dist", cache_dir=folder, jobs=1, timestamp=TIMESTAMP)
        assert result.committed
        return dict(read_package(tmp_path / "dist" / "book.apkg").notes[0].fields)["Answer"]

    assert answer() == "<p>the <code>answer</code></p>"
    stored = [p for p in folder.rglob("*") if p.is_file()]
    assert len(stored) == 2  # the extracted book and the rendered cards
    marker = tmp_path / "ran"
    for path in stored:
        path.write_bytes(pickle.dumps(_Trap(marker)))
    assert answer() == "<p>the <code>answer</code></p>"
    assert not marker.exists(), "a cache file ran code"


def _imports(module: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "ankigen":
            names |= {f"ankigen.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_cache_key_covers_every_module_and_library_that_shapes_a_cached_value() -> None:
    """Follow the imports of the modules that extract and render (a static oracle): every
    ankigen module they reach is hashed into the key, and every library's version is in it."""
    package = REPO / "ankigen"
    seen: set[str] = set()
    todo = ["extract", "render"]
    libraries: set[str] = set()
    distributions = metadata.packages_distributions()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in _imports(package / f"{module}.py"):
            top = name.split(".")[0]
            if top == "ankigen":
                todo.append(name.split(".")[1])
            elif top in distributions:
                libraries |= {d.lower().replace("_", "-") for d in distributions[top]}
            # else: the standard library, covered by the Python version
    assert seen <= set(cache.SHAPING), seen - set(cache.SHAPING)
    assert "beautifulsoup4" in libraries
    # A library's own dependencies that shape its output too: BeautifulSoup's selectors.
    assert libraries | {"soupsieve"} <= set(cache.LIBRARIES), libraries - set(cache.LIBRARIES)


def test_a_severity_changed_in_codes_py_is_never_served_from_the_cache(tmp_path: Path) -> None:
    """Change what the key covers (a copy of ankigen with one severity changed) and see a miss."""
    copy = tmp_path / "code"
    shutil.copytree(REPO / "ankigen", copy / "ankigen", ignore=shutil.ignore_patterns("__pycache__"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "book.md").write_text(CARD.format(q="Q?", a="A"), encoding="utf-8")  # no title: AG110
    env = {**os.environ, "PYTHONPATH": str(copy), "ANKIGEN_CACHE_DIR": str(tmp_path / "cache")}

    def check() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ankigen", "check", str(notes)],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done.stdout

    assert "warning AG110" in check()
    codes = copy / "ankigen" / "codes.py"
    text = codes.read_text(encoding="utf-8")
    changed = text.replace('"AG110",\n        Severity.WARNING', '"AG110",\n        Severity.ERROR')
    assert changed != text
    codes.write_text(changed, encoding="utf-8")
    assert "error AG110" in check()


def test_the_cache_gives_back_exactly_what_extraction_gave(tmp_path: Path) -> None:
    from ankigen import extract as ex

    from .conftest import CORPUS, SEED

    sources = [SEED, REPO / "tests" / "data" / "showcase.md", *sorted((CORPUS / "resources").glob("*.md"))[:20]]
    for path in sources:
        shown = pipeline.display_path(path)
        data = path.read_bytes()
        fresh = ex.extract(ex.decode(data, shown), shown)

        def miss() -> Extracted:
            raise AssertionError("a miss")

        key = cache.extract_key(data, shown)
        assert cache.cached_extract(tmp_path, path, shown, key, lambda done=fresh: done) == fresh
        assert cache.cached_extract(tmp_path, path, shown, key, miss) == fresh, shown
    assert len(list(tmp_path.rglob("*.extract.json"))) == len(sources)


def test_the_corpus_tests_fence_scanner_is_its_own() -> None:
    """The test that checks every code block of the corpus must not trust ankigen's fence code."""
    for module in ("test_anki_import.py", "rawcheck.py"):
        imported = _imports(REPO / "tests" / module)
        assert not {name for name in imported if name.startswith(("ankigen.fences", "ankigen.render"))}, module


def test_a_notes_file_over_the_memory_limit_is_extracted_once(tmp_path: Path) -> None:
    """A very large notes file is still cached (keyed on its digest, with one copy of it in memory):
    a warm build does not extract it again."""
    notes = tmp_path / "notes"
    notes.mkdir()
    big = notes / "big.md"
    prose = "Background reading, long enough to make the file large. " * 20 + "\n\n"
    cards = "".join(f"<details>\n<summary>Q{i}?</summary>\n\nA{i}.\n</details>\n\n" for i in range(3))
    big.write_text("# Big\n\n" + prose * (cache.EXTRACT_CACHE_LIMIT // len(prose) + 1) + cards, encoding="utf-8")
    assert big.stat().st_size > cache.EXTRACT_CACHE_LIMIT
    cached = tmp_path / "cache"
    first = pipeline.build([notes], tmp_path / "dist", jobs=1, timestamp=TIMESTAMP, cache_dir=cached)
    assert first.cards == 3
    [stored] = cached.rglob("*.extract.json")
    stored.write_text(stored.read_text(encoding="utf-8").replace('"A1."', '"A1, from the cache."'), encoding="utf-8")
    again = pipeline.plan([notes], cache_dir=cached)
    assert [card.answer for deck in again.decks for card in deck.cards] == [
        "<p>A0.</p>", "<p>A1, from the cache.</p>", "<p>A2.</p>"
    ]  # fmt: skip
