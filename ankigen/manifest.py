"""The build manifest kept next to the decks: what the last build wrote, so the next one can remove
its stale packages, report cards that left the notes, and stamp a strictly newer time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen.fsutil import write_atomic

MANIFEST_NAME = ".ankigen-manifest.json"
_VERSION = 2


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
class Manifest:
    timestamp: int
    packages: tuple[PackageRecord, ...]
    cards: tuple[CardRecord, ...]


def read(out_dir: Path) -> Manifest | None:
    """The previous build's manifest, or None when there is none or it is unreadable."""
    try:
        data: Any = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        if data.get("version") != _VERSION:
            return None
        cards = tuple(
            CardRecord(str(g), str(c["question"]), str(c["deck"]), str(c["source"])) for g, c in data["cards"].items()
        )
        packages = tuple(PackageRecord(str(name), str(digest)) for name, digest in data["packages"].items())
        return Manifest(int(data["timestamp"]), packages, cards)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write(out_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically."""
    data = {
        "version": _VERSION,
        "timestamp": manifest.timestamp,
        "packages": {p.name: p.digest for p in manifest.packages},
        "cards": {c.guid: {"question": c.question, "deck": c.deck, "source": c.source} for c in manifest.cards},
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    write_atomic(out_dir / MANIFEST_NAME, text.encode("utf-8"))
