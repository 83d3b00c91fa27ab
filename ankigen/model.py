"""Typed, frozen data passed between the pipeline stages: extract -> render -> package."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


@dataclass(frozen=True, slots=True, order=True)
class SourceLoc:
    """A place in a notes file; ``str()`` gives ``path:line``."""

    path: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the input, tied to a place in it."""

    loc: SourceLoc
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.loc}:{self.loc.col}: {self.severity.value} {self.code} {self.message}"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An ``<img src>`` (or Markdown image) named in a card or under a title."""

    src: str
    loc: SourceLoc


@dataclass(frozen=True, slots=True)
class Card:
    """One ``<details>`` block, split into its parts but not rendered."""

    question: str  # inner HTML of <summary>, may hold Markdown backticks and $math$
    answer: str  # the answer's Markdown, de-quoted, without its footer
    resources: tuple[str, ...]  # Markdown, one per list item
    references: tuple[str, ...]  # Markdown, one per list item
    images: tuple[ImageRef, ...]
    loc: SourceLoc  # the <details> line
    explicit_id: str | None = None  # <!-- id: NAME --> written by the user
    key: str = ""  # the question's visible text, whitespace folded: its identity in the book


@dataclass(frozen=True, slots=True)
class Section:
    """A ``## `` heading (a chapter) and its cards; ``number`` is None for named sections."""

    name: str  # "Chapter 1", "Sorting", or the book title for cards before any heading
    number: int | None
    total: int | None
    status: str | None
    loc: SourceLoc
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class Book:
    """One notes file."""

    title: str
    path: Path
    cover: ImageRef | None
    sections: tuple[Section, ...]

    @property
    def card_count(self) -> int:
        return sum(len(s.cards) for s in self.sections)


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the extractor makes of one file: the book (if any) and what it found wrong."""

    book: Book | None
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class Fields:
    """A card's HTML fields, sanitized; ``unsafe`` tells whether active content was removed."""

    question: str
    answer: str
    resources: str
    references: str
    unsafe: bool


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """A card as HTML fields, ready to be packaged."""

    guid: str
    question: str
    answer: str
    resources: str
    references: str
    source: str  # "path:line" of the <details>
    loc: SourceLoc
    title: str = ""  # the question as plain text, for reports


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A file packaged into a deck: ``name`` is what the card's HTML refers to."""

    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class DeckSpec:
    """One deck to write as one ``.apkg``."""

    deck_name: str
    book: str
    chapter: str
    description: str
    tags: tuple[str, ...]
    cards: tuple[RenderedCard, ...]
    media: tuple[MediaFile, ...]
    filename: str


class Split(str, Enum):
    """How decks are grouped into packages."""

    CHAPTER = "chapter"  # one package per chapter (the default)
    BOOK = "book"  # one package per book, its chapters as subdecks
    ALL = "all"  # one package with everything


@dataclass(frozen=True, slots=True)
class Theme:
    """The Pygments styles of code on the cards: one for light mode, one for night mode."""

    light: str = "default"
    dark: str = "github-dark"


@dataclass(frozen=True, slots=True)
class DeckOptions:
    """What a user may choose about the decks (command line or configuration)."""

    deck_name: str = "{book}::{chapter}"  # the template of a chapter's deck name
    tags: tuple[str, ...] = ()  # extra tags on every note
    theme: Theme = Theme()
    split: Split = Split.CHAPTER


@dataclass(frozen=True, slots=True)
class Share:
    """Part ``index`` of ``count`` of a book's decks: a big book is built by several processes,
    each rendering and packaging a run of its chapters (identity stays book-wide)."""

    index: int = 0
    count: int = 1

    def decks(self, sizes: Sequence[int]) -> range:
        """The run of decks (by their number of cards, in order) that is this part: runs of about
        as many cards each."""
        total = max(1, sum(sizes))
        parts, before = [], 0
        for size in sizes:
            parts.append(min(self.count - 1, before * self.count // total))
            before += size
        return range(bisect_left(parts, self.index), bisect_left(parts, self.index + 1))
