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
import sqlite3
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygments.formatters import HtmlFormatter

from ankigen.fsutil import temp_file
from ankigen.model import DeckSpec, RenderedCard, Theme

if TYPE_CHECKING:
    import genanki

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
    text = (spec.book, spec.chapter, card.source)
    return (card.question, card.answer, card.resources, card.references, *(html.escape(t, quote=False) for t in text))


@lru_cache(maxsize=1)
def _note_class() -> Any:
    import genanki

    class _Note(genanki.Note):  # type: ignore[misc]
        """genanki's Note without its HTML-tag regex check (our fields are generated HTML)."""

        def _check_invalid_html_tags_in_fields(self) -> None:
            return None

    return _Note


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
    """Every deck and note into an empty collection."""
    import genanki

    model, note = notetype(theme), _note_class()
    for spec in decks:
        deck = genanki.Deck(deck_id(spec.deck_name), spec.deck_name, description=spec.description)
        for card in spec.cards:
            fields = list(note_fields(card, spec))
            deck.add_note(note(model=model, fields=fields, guid=card.guid, tags=list(spec.tags)))
        deck.write_to_db(cursor, timestamp, ids)


def _collection_bytes(decks: Sequence[DeckSpec], timestamp: float, ids: Iterator[int], theme: Theme) -> bytes:
    if sys.version_info >= (3, 11):  # in memory, serialized once: no temporary file, no disk sync
        conn = sqlite3.connect(":memory:")
        try:
            conn.deserialize(_empty_collection())
            _fill(conn.cursor(), decks, timestamp, ids, theme)
            conn.commit()
            return conn.serialize()
        finally:
            conn.close()
    with tempfile.TemporaryDirectory(prefix="ankigen-") as tmp:  # the same bytes, through a file
        db_path = Path(tmp) / "collection.anki2"
        db_path.write_bytes(_empty_collection())
        conn = sqlite3.connect(db_path)
        try:
            _fill(conn.cursor(), decks, timestamp, ids, theme)
            conn.commit()
        finally:
            conn.close()
        return db_path.read_bytes()


@lru_cache(maxsize=1)
def _empty_collection() -> bytes:
    """genanki's empty collection (schema and ``col`` row), made once: what ``Package.write_to_db``
    would build again for every package."""
    import genanki

    with tempfile.TemporaryDirectory(prefix="ankigen-") as tmp:
        db_path = Path(tmp) / "empty.anki2"
        conn = sqlite3.connect(db_path)
        try:
            genanki.Package([]).write_to_db(conn.cursor(), 0, iter(()))
            conn.commit()
        finally:
            conn.close()
        return db_path.read_bytes()


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


def notetype_signature(theme: Theme = DEFAULT_THEME) -> str:
    """A digest of everything the notetype is made from (a change to the card's CSS, templates or
    code themes changes every deck), without building the CSS."""
    parts = [str(MODEL_ID), MODEL_NAME, *FIELD_NAMES, TEMPLATE_NAME, theme.light, theme.dark]
    parts += [metadata.version("pygments"), *(_theme(name) for name in ("card.css", "front.html", "back.html"))]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
