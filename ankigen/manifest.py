"""The build manifest kept next to the decks: which notes file each package and card came from, so
the next build can remove the stale packages and report the cards that left the notes of the books
it reads, and nothing of the others; the cards reported so far; and the last build's time."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen.fsutil import write_atomic

MANIFEST_NAME = ".ankigen-manifest.json"
_VERSION = 3


@dataclass(frozen=True, slots=True)
class CardRecord:
    """What a user needs to find a card in Anki: its question, deck and where it came from."""

    guid: str
    question: str
    deck: str
    source: str


@dataclass(frozen=True, slots=True)
class PackageRecord:
    """A package a build wrote, and a digest of what it holds."""

    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class BookRecord:
    """One notes file as last built: its packages and cards. ``source`` is the file's path relative
    to the output folder, so it names the same file from any working folder."""

    source: str
    title: str
    packages: tuple[str, ...]
    cards: tuple[CardRecord, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    timestamp: int
    packages: tuple[PackageRecord, ...]
    books: tuple[BookRecord, ...]
    gone: tuple[CardRecord, ...]  # every card reported gone and not back in the notes since


def source_key(path: Path, out_dir: Path) -> str:
    """The manifest's name for a notes file: relative to the output folder where possible."""
    resolved, base = path.resolve(), out_dir.resolve()
    try:
        return Path(os.path.relpath(resolved, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return resolved.as_posix()


def _cards(data: Any) -> tuple[CardRecord, ...]:
    return tuple(CardRecord(str(c["guid"]), str(c["question"]), str(c["deck"]), str(c["source"])) for c in data)


def read(out_dir: Path) -> Manifest | None:
    """The previous build's manifest, or None when there is none or it is unreadable.

    A manifest of an older version (which did not say where packages came from) gives only its
    time and digests, and no books: nothing is removed or reported on its account."""
    try:
        data: Any = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        packages = tuple(PackageRecord(str(name), str(digest)) for name, digest in data["packages"].items())
        if data.get("version") != _VERSION:
            return Manifest(int(data["timestamp"]), packages, (), ())
        books = tuple(
            BookRecord(str(source), str(book["title"]), tuple(map(str, book["packages"])), _cards(book["cards"]))
            for source, book in data["books"].items()
        )
        return Manifest(int(data["timestamp"]), packages, books, _cards(data["gone"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _card_data(cards: tuple[CardRecord, ...]) -> list[dict[str, str]]:
    """Cards in notes order (the order they are reported in)."""
    return [{"guid": c.guid, "question": c.question, "deck": c.deck, "source": c.source} for c in cards]


def write(out_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically."""
    data = {
        "version": _VERSION,
        "timestamp": manifest.timestamp,
        "packages": {p.name: p.digest for p in manifest.packages},
        "books": {
            b.source: {"title": b.title, "packages": list(b.packages), "cards": _card_data(b.cards)}
            for b in manifest.books
        },
        "gone": _card_data(manifest.gone),
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    write_atomic(out_dir / MANIFEST_NAME, text.encode("utf-8"))
