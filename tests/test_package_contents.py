"""What a package holds, pinned against genanki's own object path.

The packager writes notes and cards as rows; the oracle here builds the same decks the way genanki
is meant to be used (``genanki.Deck``/``Note`` objects written by ``Package.write_to_db`` into a
fresh sqlite file), with the same id counter and timestamp. Every table's rows, the schema, the
collection's JSON, the media map and the media bytes must be the same: a writer that drifts from
what genanki would write (an id order, a tags string, a sort field, a deck's JSON) fails here.
The collection's bytes are compared too: the same sqlite writes both in one test, so its version in
the file header cannot differ (bytes committed as fixtures would break with the next sqlite).
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import itertools
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import genanki
import pytest

from ankigen import build as pipeline
from ankigen import package
from ankigen.cache import RenderCache
from ankigen.decks import MediaResolver, render_book
from ankigen.extract import read_notes
from ankigen.model import DeckOptions, DeckSpec, MediaFile, RenderedCard, SourceLoc, Theme

from .conftest import REPO, SEED, TIMESTAMP

sys.path.insert(0, str(REPO / "benchmarks"))
import generate

FIRST_ID = int(TIMESTAMP) * 1000
# A 1x1 PNG and a small SVG: real image bytes, so the media check compares something.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082"
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'


class _OracleNote(genanki.Note):  # type: ignore[misc]
    """genanki's Note without its HTML-tag regex check, as the packager used it before writing rows."""

    def _check_invalid_html_tags_in_fields(self) -> None:
        return None


def oracle_apkg(decks: Sequence[DeckSpec], out: Path, *, timestamp: float, first_id: int, theme: Theme) -> Path:
    """The package as genanki's objects write it: a fresh collection file, a Deck and Notes per
    deck, ``Deck.write_to_db`` with one id counter; media deduplicated by name, in order."""
    ids = itertools.count(first_id)
    model = genanki.Model(
        package.MODEL_ID,
        package.MODEL_NAME,
        fields=[{"name": name} for name in package.FIELD_NAMES],
        templates=[
            {"name": package.TEMPLATE_NAME, "qfmt": package._theme("front.html"), "afmt": package._theme("back.html")}
        ],
        css=package.card_css(theme),
        sort_field_index=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "collection.anki2"
        conn = sqlite3.connect(db_path)
        cursor = conn.cursor()
        genanki.Package([]).write_to_db(cursor, timestamp, ids)
        for spec in decks:
            deck = genanki.Deck(package.deck_id(spec.deck_name), spec.deck_name, description=spec.description)
            for card in spec.cards:
                fields = [
                    card.question,
                    card.answer,
                    card.resources,
                    card.references,
                    *(html.escape(t, quote=False) for t in (spec.book, spec.chapter, card.source)),
                ]
                # Less control characters: Anki splits a note's fields at 0x1f (genanki does not care).
                fields = [re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", field) for field in fields]
                deck.add_note(_OracleNote(model=model, fields=fields, guid=card.guid, tags=list(spec.tags)))
            deck.write_to_db(cursor, timestamp, ids)
        conn.commit()
        conn.close()
        media = list({item.name: item for spec in decks for item in spec.media}.values())
        with zipfile.ZipFile(out, "w") as archive:
            archive.write(db_path, "collection.anki2")
            archive.writestr("media", json.dumps({str(i): item.name for i, item in enumerate(media)}))
            for index, item in enumerate(media):
                archive.writestr(str(index), item.path.read_bytes())
    return out


def _json(text: str) -> Any:
    """JSON parsed keeping every key in order, duplicates too (genanki can write a model twice)."""
    return json.loads(text, object_pairs_hook=lambda pairs: ("{}", pairs))


def dump(apkg: Path) -> dict[str, Any]:
    """Everything a package holds, canonically: schema, every table's rows (the collection's JSON
    columns parsed), the media map and each media file's bytes."""
    with zipfile.ZipFile(apkg) as archive:
        names = archive.namelist()
        database = archive.read("collection.anki2")
        media_map = json.loads(archive.read("media"))
        media = {key: archive.read(key) for key in media_map}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "collection.anki2"
        db_path.write_bytes(database)
        conn = sqlite3.connect(db_path)
        try:
            found: dict[str, Any] = {
                "entries": names,
                "media map": media_map,
                "media": media,
                "schema": conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall(),
            }
            for table in ("col", "notes", "cards", "revlog", "graves"):
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
                kinds = conn.execute(
                    f"SELECT {', '.join(f'typeof({c})' for c in columns)} FROM {table} ORDER BY rowid"
                ).fetchall()
                if table == "col":
                    json_columns = {"conf", "models", "decks", "dconf", "tags"}
                    rows = [
                        tuple(_json(v) if c in json_columns else v for c, v in zip(columns, row, strict=True))
                        for row in rows
                    ]
                found[table] = {"columns": columns, "rows": rows, "types": kinds}
        finally:
            conn.close()
    return found


def assert_same_as_genanki(tmp_path: Path, decks: Sequence[DeckSpec], theme: Theme = Theme()) -> dict[str, Any]:
    ours = package.write_apkg(decks, tmp_path / "ours.apkg", timestamp=TIMESTAMP, first_id=FIRST_ID, theme=theme)
    theirs = oracle_apkg(decks, tmp_path / "genanki.apkg", timestamp=TIMESTAMP, first_id=FIRST_ID, theme=theme)
    got, want = dump(ours), dump(theirs)
    with zipfile.ZipFile(ours) as mine, zipfile.ZipFile(theirs) as genanki_s:
        same_bytes = mine.read("collection.anki2") == genanki_s.read("collection.anki2")
    for key in want:  # one key at a time: a failure names the table that drifted
        assert got[key] == want[key], key
    assert got.keys() == want.keys()
    # The same sqlite wrote both, so even the pages agree: rows inserted in genanki's order.
    assert same_bytes
    return got


def specs(notes: Path, options: DeckOptions = DeckOptions(), root: Path | None = None) -> list[DeckSpec]:
    book = read_notes(notes).book
    assert book is not None
    media = MediaResolver((root or notes.parent).resolve(), [])
    return list(render_book(book, media, notes.name, [], RenderCache(None, notes), options))


def _cards(decks: Iterable[DeckSpec]) -> int:
    return sum(len(spec.cards) for spec in decks)


def test_seed_chapters_each_as_genanki_writes_them(tmp_path: Path) -> None:
    decks = specs(SEED)
    assert len(decks) == 2 and _cards(decks) == 9
    for index, spec in enumerate(decks):
        (tmp_path / str(index)).mkdir()
        got = assert_same_as_genanki(tmp_path / str(index), [spec])
        assert len(got["notes"]["rows"]) == len(spec.cards)
        assert len(got["cards"]["rows"]) == len(spec.cards)


def showcase_with_images(tmp_path: Path) -> Path:
    """The showcase notes with a cover and images in the cards: packages with media."""
    (tmp_path / "covers").mkdir()
    (tmp_path / "covers" / "cover.png").write_bytes(PNG)
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "diagram.svg").write_bytes(SVG)
    (tmp_path / "img" / "photo.png").write_bytes(PNG + b"\x00")
    text = (REPO / "tests" / "data" / "showcase.md").read_text(encoding="utf-8")
    head, rest = text.split("\n", 1)
    images = (
        "<details>\n<summary>Which pictures does this card show?</summary>\n\n"
        "> A diagram ![diagram](img/diagram.svg) and a photo ![photo](img/photo.png), the diagram again "
        '<img src="img/diagram.svg" alt="again">.\n</details>\n\n'
    )
    notes = tmp_path / "showcase.md"
    notes.write_text(f'{head}\n<img src="covers/cover.png" width="200"/>\n\n{rest}\n\n## Pictures\n\n{images}')
    return notes


def test_showcase_with_media_as_genanki_writes_it(tmp_path: Path) -> None:
    decks = specs(showcase_with_images(tmp_path), DeckOptions(tags=("extra", "more::nested")))
    assert len(decks) == 2
    assert all(any(m.name.startswith("_ankigen-cover") for m in spec.media) for spec in decks)
    assert sum(len(spec.media) for spec in decks) >= 4  # the cover twice, two card images
    for spec in decks:
        assert "extra" in spec.tags
    got = assert_same_as_genanki(tmp_path, decks)  # one package of both decks (--split book)
    assert len(got["media map"]) == 3  # the cover once, deduplicated by name
    assert PNG in got["media"].values() and SVG in got["media"].values()


def test_generated_book_chapters_and_whole_book_as_genanki_writes_them(tmp_path: Path) -> None:
    [notes] = generate.write_ankigen(generate.cards(130), tmp_path / "notes", per_book=130, per_chapter=50)
    decks = specs(notes, DeckOptions(tags=("bench",)), root=tmp_path)
    assert [len(spec.cards) for spec in decks] == [50, 50, 30]
    for index, spec in enumerate(decks):
        (tmp_path / str(index)).mkdir()
        assert_same_as_genanki(tmp_path / str(index), [spec])
    (tmp_path / "book").mkdir()
    got = assert_same_as_genanki(tmp_path / "book", decks)  # --split book
    assert len(got["notes"]["rows"]) == 130


def test_several_books_in_one_package_with_another_theme_as_genanki_writes_it(tmp_path: Path) -> None:
    """--split all: every deck of every book in one package, each deck in the collection's JSON."""
    [notes] = generate.write_ankigen(generate.cards(60), tmp_path / "notes", per_book=60, per_chapter=25)
    decks = [*specs(SEED), *specs(showcase_with_images(tmp_path)), *specs(notes, root=tmp_path)]
    assert len(decks) == 7
    got = assert_same_as_genanki(tmp_path, decks, Theme(light="friendly", dark="monokai"))
    [row] = got["col"]["rows"]
    _, deck_pairs = dict(zip(got["col"]["columns"], row, strict=True))["decks"]
    assert len(deck_pairs) == 1 + len(decks)  # genanki's "Default" and ours


def _card(guid: str, question: str, answer: str = "<p>A.</p>") -> RenderedCard:
    return RenderedCard(guid, question, answer, "", "", f"edge.md:{len(guid)}", SourceLoc("edge.md", 1))


def edge_decks(tmp_path: Path) -> list[DeckSpec]:
    image = tmp_path / "a.png"
    image.write_bytes(PNG)
    cards = (
        _card("g1", "42"),
        _card("g2", ""),
        _card("g3", "Ünïcödé <b>bold</b> &amp; \u2028 line", "x\x1fy"),
        _card("g4", "3.5", ""),
    )
    return [
        DeckSpec("A<b>::C & D", "A<b>", "C & D", "", (), cards, (MediaFile("a.png", image),), "a.apkg"),
        DeckSpec("Empty", "E", "F", "<p>none</p>", ("t",), (), (), "e.apkg"),
        DeckSpec("A<b>::Again", "A<b>", "Again", "d", ("t", "u"), (_card("g5", "-7"),), (), "a.apkg"),
    ]


def test_a_deck_s_note_fields_are_each_card_s(tmp_path: Path) -> None:
    """The fields written per deck (its book and chapter escaped once) are ``note_fields``'s, which
    the build's digest, the sync and the preview use."""
    decks = [*specs(showcase_with_images(tmp_path)), *edge_decks(tmp_path)]
    for spec in decks:
        pairs = list(package.deck_note_fields(spec))
        assert [card for card, _ in pairs] == list(spec.cards)
        assert [fields for _, fields in pairs] == [package.note_fields(card, spec) for card in spec.cards]
    assert any("&lt;b&gt;" in fields[4] for spec in decks for _, fields in package.deck_note_fields(spec))


def test_edge_fields_as_genanki_writes_them(tmp_path: Path) -> None:
    """What genanki does with odd fields: a sort field that looks like a number (stored as one, by
    the column's affinity), an empty question (a note without a card), markup-like text in the book
    and chapter (escaped), a description that is empty, a deck that has no cards, no tags; and a
    control character, which ankigen drops (0x1f would split the note in Anki)."""
    decks = edge_decks(tmp_path)
    got = assert_same_as_genanki(tmp_path, decks)
    assert [row[6].split("\x1f")[1] for row in got["notes"]["rows"] if row[1] == "g3"] == ["xy"]
    assert len(got["notes"]["rows"]) == 5
    assert len(got["cards"]["rows"]) == 4  # the empty question has no card, as in genanki
    assert "integer" in {kinds[7] for kinds in got["notes"]["types"]}


def test_ids_count_up_from_first_id(tmp_path: Path) -> None:
    """Note ids and card ids alternate from ``first_id`` (the build gives each package its range)."""
    decks = specs(SEED)
    got = dump(package.write_apkg(decks, tmp_path / "p.apkg", timestamp=TIMESTAMP, first_id=FIRST_ID))
    note_ids = [row[0] for row in got["notes"]["rows"]]
    card_ids = [row[0] for row in got["cards"]["rows"]]
    assert note_ids == list(range(FIRST_ID, FIRST_ID + 18, 2))
    assert card_ids == [n + 1 for n in note_ids]
    assert [row[1] for row in got["cards"]["rows"]] == note_ids


@pytest.mark.parametrize("theme", [Theme(), Theme(light="friendly", dark="monokai")])
def test_notetype_signature_follows_the_theme(theme: Theme) -> None:
    """The signature is cached per theme; two themes never share one."""
    assert package.notetype_signature(theme) == package.notetype_signature(Theme(theme.light, theme.dark))
    other = Theme(light=theme.light, dark="default" if theme.dark != "default" else "monokai")
    assert package.notetype_signature(theme) != package.notetype_signature(other)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="sqlite3 serializes databases from Python 3.11 on")
def test_python_3_10_path_through_a_file_gives_the_same_bytes(tmp_path: Path) -> None:
    """Python 3.10 builds the collection through a temporary file, 3.11 in memory: the same bytes,
    header counters included (a plain ``:memory:`` database would leave them at zero)."""
    empty = package._through_file(None, package._schema)
    assert package._empty_collection() == empty
    decks = [*specs(SEED), *specs(showcase_with_images(tmp_path))]

    def fill(cursor: sqlite3.Cursor) -> None:
        package._fill(cursor, decks, TIMESTAMP, itertools.count(FIRST_ID), Theme())

    assert package._in_memory(empty, fill) == package._through_file(empty, fill)


def test_dump_sees_a_changed_row(tmp_path: Path) -> None:
    """The comparison can fail: a package with one note's tags changed is told apart."""
    decks = specs(SEED)[:1]
    first = dump(package.write_apkg(decks, tmp_path / "a.apkg", timestamp=TIMESTAMP, first_id=FIRST_ID))
    changed = [dataclasses.replace(decks[0], tags=("other",))]
    second = dump(package.write_apkg(changed, tmp_path / "b.apkg", timestamp=TIMESTAMP, first_id=FIRST_ID))
    assert first["notes"] != second["notes"] and first["cards"] == second["cards"]


def test_build_digest_is_the_same_value(tmp_path: Path) -> None:
    """What the build's digest of a package is made of, written out as it always was: the value is
    compared with the one stored at the last build, so computing it faster must not change it."""

    def digest(decks: Sequence[DeckSpec], options: DeckOptions, stamp_part: str) -> str:
        parts = [package.notetype_signature(options.theme), stamp_part]
        for spec in decks:
            parts += [spec.deck_name, spec.description, " ".join(spec.tags), spec.filename]
            for card in spec.cards:
                parts += [card.guid, *package.note_fields(card, spec)]
            parts += [f"{m.name}\x1f{m.path}" for m in spec.media]
        return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()

    options = DeckOptions(tags=("x",), theme=Theme(light="friendly", dark="monokai"))
    decks = [*specs(showcase_with_images(tmp_path), options), *edge_decks(tmp_path), *specs(SEED)]
    for chosen in ([decks[0]], decks[2:4], decks):
        for stamp_part in ("", "1767225600"):
            for opts in (options, DeckOptions()):
                assert pipeline._digest(chosen, opts, stamp_part) == digest(chosen, opts, stamp_part)
    assert pipeline._digest(decks, options, "") != pipeline._digest(decks[:-1], options, "")
