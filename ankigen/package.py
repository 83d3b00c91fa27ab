"""DeckSpec -> ``.apkg`` file. The only module that imports genanki, and only when it writes a
package: a build that finds every package unchanged never loads it.

The notetype below is a public contract (see ``../shared/ANKI.md``): Anki matches it by id, and
renaming, adding or removing a field or template makes Anki import a copy instead of updating
users' notes. Change the CSS and the templates' HTML freely; never the id, names or order.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ankigen.cache import library_versions
from ankigen.fsutil import temp_file
from ankigen.model import DeckSpec, RenderedCard, Theme

if TYPE_CHECKING:
    import genanki
    from pygments.formatters import HtmlFormatter

MODEL_ID = 1894536271
MODEL_NAME = "ankigen"
FIELD_NAMES = ("Question", "Answer", "Resources", "References", "Book", "Chapter", "Source")
TEMPLATE_NAME = "Card 1"
_NIGHT = (".nightMode", ".night_mode")


# Anki's base91 digits, in genanki's order.
_BASE91 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&()*+,-./:;<=>?@[]^_`{|}~"


def guid_for(*parts: str) -> str:
    """An Anki note GUID from stable parts: genanki's ``guid_for`` (base91 of a SHA-256 prefix),
    written out so that computing GUIDs does not load genanki (a test compares the two)."""
    number = int.from_bytes(hashlib.sha256("__".join(parts).encode()).digest()[:8], "big")
    digits = []
    while number > 0:
        number, digit = divmod(number, len(_BASE91))
        digits.append(_BASE91[digit])
    return "".join(reversed(digits))


def deck_id(deck_name: str) -> int:
    """A deck id fixed by the deck's name, inside the range genanki recommends and below 2**53."""
    digest = hashlib.sha256(f"ankigen deck\x1f{deck_name}".encode()).digest()
    return (1 << 31) + int.from_bytes(digest[:8], "big") % ((1 << 52) - (1 << 31))


def _theme(name: str) -> str:
    return resources.files("ankigen.theme").joinpath(name).read_text(encoding="utf-8")


def _code_css(style: str, prefixes: tuple[str, ...]) -> str:
    selectors = [f"{prefix} .highlight" if prefix else ".highlight" for prefix in prefixes]
    from pygments.formatters import HtmlFormatter  # for the notetype's CSS: only a package written needs it

    formatter: HtmlFormatter[str] = HtmlFormatter(style=style)
    return str(formatter.get_style_defs(selectors))  # type: ignore[no-untyped-call]


def _token_classes(css: str) -> set[str]:
    classes = set()
    for line in css.splitlines():
        head = line.split("{", 1)[0].strip()
        if head.startswith(".highlight ."):
            classes.add(head.split()[1])
    return classes


DEFAULT_THEME = Theme()


@lru_cache(maxsize=8)
def card_css(theme: Theme = DEFAULT_THEME) -> str:
    """The notetype CSS: the card style, a light code theme and a dark one for night mode."""
    light = _code_css(theme.light, ("",))
    dark = _code_css(theme.dark, _NIGHT)
    # Tokens the light theme colours but the dark one does not would keep their light colour on
    # a dark background: reset them first, then let the dark theme's own rules win.
    missing = sorted(_token_classes(light) - _token_classes(_code_css(theme.dark, ("",))))
    reset = ", ".join(f"{night} .highlight {cls}" for cls in missing for night in _NIGHT)
    resets = f"{reset} {{ color: inherit; background-color: transparent; font-weight: inherit; font-style: inherit }}"
    return "\n".join([_theme("card.css"), "/* Pygments: light */", light, "/* Pygments: night */", resets, dark])


@lru_cache(maxsize=8)
def notetype(theme: Theme = DEFAULT_THEME) -> genanki.Model:
    """The one notetype every ankigen note uses."""
    import genanki

    return genanki.Model(
        MODEL_ID,
        MODEL_NAME,
        fields=[{"name": name} for name in FIELD_NAMES],
        templates=[{"name": TEMPLATE_NAME, "qfmt": _theme("front.html"), "afmt": _theme("back.html")}],
        css=card_css(theme),
        sort_field_index=0,
    )


def note_fields(card: RenderedCard, spec: DeckSpec) -> tuple[str, ...]:
    """A note's fields, in ``FIELD_NAMES`` order: every one is HTML to Anki. The card's own fields
    come sanitized; the book, chapter and source are text, escaped here (a title may show ``<img>``
    as text; it must never become one)."""
    return _note_fields(card, _text(spec.book), _text(spec.chapter))


def deck_note_fields(spec: DeckSpec) -> Iterator[tuple[RenderedCard, tuple[str, ...]]]:
    """Each card of a deck with its note's fields (``note_fields``), the deck's book and chapter
    escaped once for all its cards."""
    book, chapter = _text(spec.book), _text(spec.chapter)
    return ((card, _note_fields(card, book, chapter)) for card in spec.cards)


# Control characters have no place in HTML, and Anki splits a note's fields at 0x1f: one pasted
# into the notes would shift every field after it (and Anki refuses a note of too many fields).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _note_fields(card: RenderedCard, book: str, chapter: str) -> tuple[str, ...]:
    fields = (card.question, card.answer, card.resources, card.references, book, chapter, _text(card.source))
    if _CONTROL.search("".join(fields)):
        return tuple(_CONTROL.sub("", field) for field in fields)
    return fields


def _text(text: str) -> str:
    """Text as HTML."""
    return html.escape(text, quote=False)


# Zip entry times cannot precede 1980; a fixed time keeps the archive reproducible.
_ZIP_EPOCH = 315532800


def _zip_time(timestamp: float) -> tuple[int, int, int, int, int, int]:
    moment = time.gmtime(max(int(timestamp), _ZIP_EPOCH))
    return (
        moment.tm_year,
        moment.tm_mon,
        moment.tm_mday,
        moment.tm_hour,
        moment.tm_min,
        moment.tm_sec - moment.tm_sec % 2,
    )


def _add(archive: zipfile.ZipFile, name: str, data: bytes, when: tuple[int, int, int, int, int, int]) -> None:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compresslevel=6)


def _fill(
    cursor: sqlite3.Cursor, decks: Sequence[DeckSpec], timestamp: float, ids: Iterator[int], theme: Theme
) -> None:
    """Every deck and note into an empty collection: the rows genanki's ``Deck.write_to_db`` would
    write, inserted directly (making genanki's Note and Card objects cost more than the rows).

    genanki itself still writes each deck's entry and the notetype into the collection's JSON (a
    deck without notes adds no notetype there). Then, per note, as ``Note.write_to_db`` and
    ``Card.write_to_db`` do: the note takes the next id, then each of its cards (one per template
    whose required fields are not empty, by the notetype's ``_req``); ``mod`` is the timestamp
    truncated, ``usn`` -1, tags a space-separated string with a space at each end, the fields
    joined by 0x1f, the sort field the notetype's ``sortf`` field, the checksum 0 (genanki leaves
    it to Anki). Notes and cards are inserted in that same interleaved order: inserting all notes,
    then all cards (``executemany``) was no faster, the inserts themselves being most of the time,
    and laid the collection's pages out differently, changing the package's bytes."""
    import genanki

    model = notetype(theme)
    required = [(ord_, any if op == "any" else all, ords) for ord_, op, ords in model._req]
    sort_index = model.sort_field_index
    mod = int(timestamp)
    for spec in decks:
        for tag in spec.tags if spec.cards else ():
            if " " in tag:  # genanki's Note refuses such a tag (Anki splits tags on spaces)
                raise ValueError(f'Tag "{tag}" contains a space; this is not allowed!')
        did = deck_id(spec.deck_name)
        deck = genanki.Deck(did, spec.deck_name, description=spec.description)
        if spec.cards:
            deck.add_model(model)
        deck.write_to_db(cursor, timestamp, ids)
        tags = f" {' '.join(spec.tags)} "
        for card, fields in deck_note_fields(spec):
            note_id = next(ids)
            cursor.execute(
                _NOTE_ROW,
                (note_id, card.guid, MODEL_ID, mod, -1, tags, "\x1f".join(fields), fields[sort_index], 0, 0, ""),
            )
            for ord_, op, ords in required:
                if op(fields[i] for i in ords):
                    cursor.execute(
                        _CARD_ROW, (next(ids), note_id, did, ord_, mod, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")
                    )


_NOTE_ROW = "INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?);"
_CARD_ROW = "INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?);"


def _collection_bytes(decks: Sequence[DeckSpec], timestamp: float, ids: Iterator[int], theme: Theme) -> bytes:
    """The package's collection: genanki's empty collection with the decks and notes added."""

    def fill(cursor: sqlite3.Cursor) -> None:
        _fill(cursor, decks, timestamp, ids, theme)

    if sys.version_info >= (3, 11):
        return _in_memory(_empty_collection(), fill)
    return _through_file(_empty_collection(), fill)


def _in_memory(start: bytes | None, fill: Callable[[sqlite3.Cursor], None]) -> bytes:
    """A database made in memory, serialized once: no temporary file, no disk sync (Python 3.11+).

    A new database is opened on sqlite's ``memdb`` VFS, which pages like a file, header included
    (its change counter, the sqlite version that wrote it), so the bytes are those
    ``_through_file`` gives; a plain ``:memory:`` database would leave the header's counters at
    zero. A ``start`` database is deserialized, which puts it on that VFS too."""
    if sys.version_info >= (3, 11):
        if start is None:
            conn = sqlite3.connect("file:ankigen?vfs=memdb", uri=True)  # no leading "/": not shared
        else:
            conn = sqlite3.connect(":memory:")
            conn.deserialize(start)
        try:
            fill(conn.cursor())
            conn.commit()
            return conn.serialize()
        finally:
            conn.close()
    raise RuntimeError("sqlite3 serializes databases from Python 3.11 on")


def _through_file(start: bytes | None, fill: Callable[[sqlite3.Cursor], None]) -> bytes:
    """The same database through a temporary file (Python 3.10, whose sqlite3 cannot serialize)."""
    with tempfile.TemporaryDirectory(prefix="ankigen-") as tmp:
        db_path = Path(tmp) / "collection.anki2"
        if start is not None:
            db_path.write_bytes(start)
        conn = sqlite3.connect(db_path)
        try:
            fill(conn.cursor())
            conn.commit()
        finally:
            conn.close()
        return db_path.read_bytes()


@lru_cache(maxsize=1)
def _empty_collection() -> bytes:
    """genanki's empty collection (schema and ``col`` row), made once: what ``Package.write_to_db``
    would build again for every package."""
    if sys.version_info >= (3, 11):
        try:
            return _in_memory(None, _schema)
        except sqlite3.OperationalError:  # an sqlite that cannot open memdb by name (before 3.36)
            pass
    return _through_file(None, _schema)


def _schema(cursor: sqlite3.Cursor) -> None:
    """genanki's schema and ``col`` row, as ``Package.write_to_db`` writes them."""
    import genanki

    genanki.Package([]).write_to_db(cursor, 0, iter(()))


def stage_apkg(
    decks: Sequence[DeckSpec], out_path: Path, *, timestamp: float, first_id: int, theme: Theme = DEFAULT_THEME
) -> Path:
    """Write decks as one deflate-compressed ``.apkg`` into a temporary file beside ``out_path``
    and return it; renaming it into place is the caller's (``os.replace`` is atomic).

    Notes and cards take ids counting up from ``first_id``; ``timestamp`` (seconds) is every
    note's and the notetype's modification time and the zip entries' time.
    """
    ids = itertools.count(first_id)
    database = _collection_bytes(decks, timestamp, ids, theme)
    media = list({item.name: item for spec in decks for item in spec.media}.values())
    when = _zip_time(timestamp)
    fd, temp = temp_file(out_path)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                _add(archive, "collection.anki2", database, when)
                media_map = {str(index): item.name for index, item in enumerate(media)}
                _add(archive, "media", json.dumps(media_map, sort_keys=True).encode(), when)
                for index, item in enumerate(media):
                    _add(archive, str(index), item.path.read_bytes(), when)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_apkg(
    decks: Sequence[DeckSpec], out_path: Path, *, timestamp: float, first_id: int, theme: Theme = DEFAULT_THEME
) -> Path:
    """Write decks to ``out_path``: staged as a temporary file, then renamed into place."""
    os.replace(stage_apkg(decks, out_path, timestamp=timestamp, first_id=first_id, theme=theme), out_path)
    return out_path


@lru_cache(maxsize=8)
def notetype_signature(theme: Theme = DEFAULT_THEME) -> str:
    """A digest of everything the notetype is made from (a change to the card's CSS, templates or
    code themes changes every deck), without building the CSS. Made once per theme: every
    package's digest starts with it, and Pygments' version and the theme files do not change
    while the program runs."""
    parts = [str(MODEL_ID), MODEL_NAME, *FIELD_NAMES, TEMPLATE_NAME, theme.light, theme.dark]
    parts += [
        library_versions(["pygments"])["pygments"],
        *(_theme(name) for name in ("card.css", "front.html", "back.html")),
    ]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
