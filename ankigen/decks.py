"""Book -> DeckSpecs: deck names, file names, note GUIDs, media, and the rendered fields of every
card (through the render cache). Pure but for reading image files and the cache."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ankigen import codes
from ankigen.cache import RenderCache, card_key
from ankigen.model import (
    Book,
    Card,
    DeckOptions,
    DeckSpec,
    Diagnostic,
    Fields,
    ImageRef,
    MediaFile,
    RenderedCard,
    Section,
    Share,
    SourceLoc,
)
from ankigen.package import guid_for

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


def cards(count: int) -> str:
    """``1 card``, ``2 cards``."""
    return f"{count} card" if count == 1 else f"{count} cards"


def display_path(path: Path) -> str:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def slug(text: str) -> str:
    """``Learning eBPF`` -> ``learning-ebpf``: ASCII, lowercase, for file names and tags."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "notes"


_PLAIN = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")


def file_part(text: str) -> str:
    """A title's or section's part of a package's file name. A name of letters, digits and spaces
    is its slug (``learning-ebpf``); any other gets a short digest of its exact text too, so names
    that slug alike (``C++ Primer``, ``C Primer``) never share a file, whatever else is built."""
    folded = " ".join(text.split())
    if _PLAIN.fullmatch(folded):
        return slug(folded)
    return f"{slug(folded)}-{hashlib.sha256(folded.encode()).hexdigest()[:6]}"


def section_label(section: Section, book: Book) -> str:
    """``Chapter 01`` (zero-padded so Anki sorts chapters in order) or the section's own name."""
    if section.number is None:
        return section.name
    widest = max(
        [len(str(s.total)) for s in book.sections if s.total] + [len(str(s.number)) for s in book.sections if s.number],
        default=2,
    )
    return f"Chapter {section.number:0{max(2, widest)}d}"


# Anki splits deck names at ``::``: one inside a name (``## std::variant``) is written with two
# RATIO signs (U+2236), which look the same: the deck ``Book::std::variant`` would be a subdeck.
DECK_SEPARATOR_STANDIN = "\u2236\u2236"


def _deck_part(text: str) -> str:
    return " ".join(text.replace("::", DECK_SEPARATOR_STANDIN).split())


@dataclass
class MediaResolver:
    """Image sources resolved to packaged files, shared by a build so each file is hashed once."""

    root: Path
    diagnostics: list[Diagnostic]
    by_path: dict[tuple[Path, str], tuple[MediaFile | None, str, str]] = field(default_factory=dict)

    def resolve(self, ref: ImageRef, notes_file: Path, *, cover: bool = False) -> MediaFile | None:
        """The packaged file an image source names, or None (with a warning at every place that
        names it) when it may not be packaged. Anki imports only the media that notes use, or whose
        name starts with ``_``: a cover, shown only in the deck description, gets that prefix."""
        prefix = "_" if cover else ""
        src = ref.src
        if _REMOTE.match(src) and not src.lower().startswith("file:"):
            return None
        target = (notes_file.parent / src.split("#", 1)[0].split("?", 1)[0]).resolve()
        key = (target, prefix)
        if key not in self.by_path:
            self.by_path[key] = self._look(target, prefix)
        media, code, problem = self.by_path[key]
        if media is None:
            self.diagnostics.append(codes.diagnostic(code, ref.loc, f"image {src!r} {problem}"))
        return media

    def _look(self, target: Path, prefix: str) -> tuple[MediaFile | None, str, str]:
        if not target.is_relative_to(self.root):
            return None, codes.UNSAFE_IMAGE, f"is outside the notes folder {display_path(self.root)}; not packaged"
        if not target.is_file():
            return None, codes.MISSING_IMAGE, "not found"
        try:
            digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
        except OSError as exc:
            return None, codes.MISSING_IMAGE, f"cannot be read: {exc.strerror}"
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", target.stem)[:40]
        return MediaFile(f"{prefix}ankigen-{stem}-{digest}{target.suffix.lower()}", target), "", ""


def card_guid(book: Book, card: Card, occurrence: int) -> str:
    """A note's GUID: the book title and the card's question (or its explicit id), never its answer
    or position. The n-th repeat of a question in a book gets ``#n`` so both cards survive."""
    identity = f"id:{card.explicit_id}" if card.explicit_id else card.key
    parts = ["ankigen", " ".join(book.title.split()), identity]
    if occurrence > 1:
        parts.append(f"#{occurrence}")
    return guid_for(*parts)


def _render(card: Card, names: dict[str, str], cache: RenderCache) -> Fields:
    key = card_key(card, names)
    found = cache.get(key)
    if found is None:
        from ankigen import render  # Markdown and Pygments load only when something must be rendered

        found = render.render_fields(card, names)
        cache.put(key, found)
    return found


@dataclass
class _Deck:
    """Sections of a book that make one deck: Anki knows a deck by its name, ignoring case."""

    name: str
    label: str
    preamble: bool
    sections: list[Section]

    @property
    def size(self) -> int:
        return sum(len(section.cards) for section in self.sections)


def deck_sizes(book: Book, options: DeckOptions) -> list[int]:
    """The number of cards of each deck of the book, in order."""
    return [deck.size for deck in _decks(book, options, [])]


def _decks(book: Book, options: DeckOptions, diagnostics: list[Diagnostic]) -> list[_Deck]:
    """The book's decks in the order they first appear; a section that gives the deck of an earlier
    one joins it, with a warning naming both headings."""
    decks: dict[str, _Deck] = {}
    for section in book.sections:
        if not section.cards:
            continue
        label = section_label(section, book)
        preamble = section.number is None and section.name == book.title and section is book.sections[0]
        name = (
            _deck_part(book.title)
            if preamble
            else options.deck_name.format(book=_deck_part(book.title), chapter=_deck_part(label))
        )
        found = decks.get(name.casefold())
        if found is None:
            decks[name.casefold()] = _Deck(name, label, preamble, [section])
            continue
        first = found.sections[0]
        message = (
            f"the section {section.name!r} gives the deck {found.name!r}, as {first.name!r} at {first.loc} "
            "does: their cards are one deck and one package"
        )
        diagnostics.append(codes.diagnostic(codes.SAME_DECK, section.loc, message))
        found.sections.append(section)
    return list(decks.values())


def _occurrences(book: Book) -> dict[int, int]:
    """Each card's line -> how many cards of the book up to it ask its question (1 for the first)."""
    seen: dict[str, int] = {}
    found: dict[int, int] = {}
    for section in book.sections:
        for card in section.cards:
            key = card.explicit_id or card.key
            seen[key] = seen.get(key, 0) + 1
            found[card.loc.line] = seen[key]
    return found


def render_book(
    book: Book,
    media: MediaResolver,
    shown_path: str,
    diagnostics: list[Diagnostic],
    cache: RenderCache,
    options: DeckOptions = DeckOptions(),
    share: Share = Share(),
) -> Iterator[DeckSpec]:
    """Every deck of a book (of its ``share``) as a DeckSpec, cards rendered to HTML, one deck at a
    time (a caller that writes each as it comes holds one deck's HTML at once, not the book's).
    What is found about the book as a whole is reported by its first share only."""
    occurrences = _occurrences(book)
    book_slug = slug(book.title)
    book_part = file_part(book.title)
    whole = diagnostics if share.index == 0 else []
    cover_media = media if share.index == 0 else MediaResolver(media.root, whole)
    cover = cover_media.resolve(book.cover, book.path, cover=True) if book.cover else None
    decks = _decks(book, options, whole)
    chosen = share.decks([deck.size for deck in decks])
    for deck in decks[chosen.start : chosen.stop]:
        files: dict[Path, MediaFile] = {}
        if cover:
            files[cover.path] = cover
        rendered: list[RenderedCard] = []
        for card in (card for section in deck.sections for card in section.cards):
            names: dict[str, str] = {}
            for ref in card.images:
                found = media.resolve(ref, book.path)
                if found:
                    names[ref.src] = found.name
                    files[found.path] = found
            fields = _render(card, names, cache)
            if fields.unsafe:
                diagnostics.append(codes.diagnostic(codes.UNSAFE_HTML, card.loc, "unsafe HTML removed from this card"))
            rendered.append(
                RenderedCard(
                    guid=card_guid(book, card, occurrences[card.loc.line]),
                    question=fields.question,
                    answer=fields.answer,
                    resources=fields.resources,
                    references=fields.references,
                    source=f"{shown_path}:{card.loc.line}",
                    loc=card.loc,
                    title=card.key,
                )
            )
        label = deck.label
        cover_html = f'<img class="ag-cover" src="{html.escape(cover.name)}" alt="">' if cover else ""
        description = (
            f"{cover_html}<p><b>{html.escape(book.title)}</b></p><p>{html.escape(label)} · {cards(len(rendered))}</p>"
            "<p><small>Built by ankigen from "
            f"{html.escape(shown_path)}</small></p>"
        )
        label_slug = "" if deck.preamble else slug(label)
        yield (
            DeckSpec(
                deck_name=deck.name,
                book=book.title,
                chapter=label,
                description=description,
                tags=(
                    "ankigen",
                    f"ankigen::{book_slug}",
                    f"ankigen::{book_slug}::{label_slug or 'book'}",
                    *options.tags,
                ),
                cards=tuple(rendered),
                media=tuple(files.values()),
                filename=f"{book_part}.apkg" if deck.preamble else f"{book_part}-{file_part(label)}.apkg",
            )
        )


def empty_notice(book: Book, shown: str) -> Diagnostic | None:
    empty = [section_label(s, book) for s in book.sections if not s.cards]
    if not empty or book.card_count == 0:
        return None
    names = ", ".join(empty)
    noun = "section" if len(empty) == 1 else "sections"
    return codes.diagnostic(codes.EMPTY_SECTIONS, SourceLoc(shown, 1), f"skipped {len(empty)} empty {noun}: {names}")
