"""The build manifest kept next to the decks: what the last build wrote, so the next one can remove
its stale packages, report cards that left the notes, and stamp a strictly newer time."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen.model import DeckSpec

MANIFEST_NAME = ".ankigen-manifest.json"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class CardRecord:
    """What a user needs to find a card in Anki: its question, deck and where it came from."""

    guid: str
    question: str
    deck: str
    source: str


@dataclass(frozen=True, slots=True)
class Manifest:
    timestamp: int
    files: tuple[str, ...]
    cards: tuple[CardRecord, ...]

    @classmethod
    def of(cls, decks: tuple[DeckSpec, ...], timestamp: int) -> Manifest:
        """The manifest of a build."""
        cards = tuple(
            CardRecord(card.guid, card.title, deck.deck_name, card.source) for deck in decks for card in deck.cards
        )
        return cls(timestamp, tuple(deck.filename for deck in decks), cards)


def read(out_dir: Path) -> Manifest | None:
    """The previous build's manifest, or None when there is none or it is unreadable."""
    try:
        data: Any = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        if data.get("version") != _VERSION:
            return None
        cards = tuple(
            CardRecord(str(g), str(c["question"]), str(c["deck"]), str(c["source"])) for g, c in data["cards"].items()
        )
        files = tuple(str(name) for name in data["files"])
        return Manifest(int(data["timestamp"]), files, cards)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write(out_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically (temporary file, then rename)."""
    data = {
        "version": _VERSION,
        "timestamp": manifest.timestamp,
        "files": sorted(manifest.files),
        "cards": {c.guid: {"question": c.question, "deck": c.deck, "source": c.source} for c in manifest.cards},
    }
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out_dir / MANIFEST_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
