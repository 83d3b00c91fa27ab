"""What an ``.apkg`` holds, read with the standard library alone (zipfile, sqlite3): decks,
notetypes, notes and their fields, media. For checking a downloaded artifact without Anki."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen.errors import UsageError


@dataclass(frozen=True, slots=True)
class DeckInfo:
    id: int
    name: str
    cards: int
    description: str


@dataclass(frozen=True, slots=True)
class NotetypeInfo:
    id: int
    name: str
    fields: tuple[str, ...]
    templates: tuple[str, ...]
    css_bytes: int


@dataclass(frozen=True, slots=True)
class NoteInfo:
    id: int
    guid: str
    notetype: int
    modified: int
    tags: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]  # (field name, value)


@dataclass(frozen=True, slots=True)
class PackageInfo:
    path: Path
    size: int
    decks: tuple[DeckInfo, ...]
    notetypes: tuple[NotetypeInfo, ...]
    notes: tuple[NoteInfo, ...]
    media: tuple[str, ...]


def read_package(path: Path) -> PackageInfo:
    """Read a package; anything that is not a readable ``.apkg`` is a UsageError naming the file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file" if not path.exists() else f"{path}: a folder, not an .apkg file")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "collection.anki2" in names:
                database = archive.read("collection.anki2")
            elif "collection.anki21" in names:
                database = archive.read("collection.anki21")
            else:
                raise UsageError(
                    f"{path}: no collection.anki2 inside; not a legacy .apkg (newer Anki exports are zstd)"
                )
            media_map: dict[str, str] = json.loads(archive.read("media") or b"{}") if "media" in names else {}
    except (OSError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a readable .apkg ({exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{path}: its media list is not valid JSON") from None
    with tempfile.TemporaryDirectory(prefix="ankigen-inspect-") as tmp:
        db_path = Path(tmp) / "collection.anki2"
        db_path.write_bytes(database)
        try:
            return _read_database(path, db_path, media_map)
        except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: its collection cannot be read ({exc})") from None


def _read_database(path: Path, db_path: Path, media_map: dict[str, str]) -> PackageInfo:
    conn = sqlite3.connect(db_path)
    try:
        models_json, decks_json = conn.execute("select models, decks from col").fetchone()
        models: dict[str, Any] = json.loads(models_json)
        decks: dict[str, Any] = json.loads(decks_json)
        counts = dict(conn.execute("select did, count() from cards group by did").fetchall())
        rows = conn.execute("select id, guid, mid, mod, tags, flds from notes order by id").fetchall()
    finally:
        conn.close()
    notetypes = tuple(
        NotetypeInfo(
            int(model["id"]),
            str(model["name"]),
            tuple(str(f["name"]) for f in model["flds"]),
            tuple(str(t["name"]) for t in model["tmpls"]),
            len(str(model.get("css", "")).encode()),
        )
        for model in models.values()
    )
    field_names = {n.id: n.fields for n in notetypes}
    notes = tuple(
        NoteInfo(
            int(nid),
            str(guid),
            int(mid),
            int(mod),
            tuple(str(tags).split()),
            tuple(zip(field_names.get(int(mid), ()), str(flds).split("\x1f"), strict=False)),
        )
        for nid, guid, mid, mod, tags, flds in rows
    )
    deck_infos = tuple(
        sorted(
            (
                DeckInfo(int(d["id"]), str(d["name"]), int(counts.get(int(d["id"]), 0)), str(d.get("desc", "")))
                for d in decks.values()
                if int(d["id"]) != 1 or counts.get(1)
            ),
            key=lambda d: d.name,
        )
    )
    media = tuple(media_map[k] for k in sorted(media_map, key=lambda k: int(k) if k.isdigit() else 0))
    return PackageInfo(path, path.stat().st_size, deck_infos, notetypes, notes, media)
