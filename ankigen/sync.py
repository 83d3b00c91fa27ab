"""A build applied to a learner's Anki collection. The only module that imports ``anki`` (Anki's own
Python library, the backend Anki desktop runs), and only when a sync runs.

What it changes, and why (see ``../shared/ANKI.md``):
- new notes arrive through Anki's own package import, so they use exactly the notetype (id
  ``MODEL_ID``) and decks that imported ``.apkg`` files use: import and sync can be mixed freely;
- changed notes are updated in place (fields, tags), only when something changed, so unchanged
  notes keep their modification time and AnkiWeb syncs stay small; scheduling lives on the cards
  and is never touched;
- a note whose deck ankigen last chose has changed (its chapter moved) has its cards moved;
- a note edited in Anki since ankigen last wrote it is a conflict, kept unless ``force``: what
  ankigen last wrote (a digest of the fields, the deck, the tags) is kept in the collection's own
  config store, under ``RECORDS_KEY``, so it travels with the collection;
- notes gone from the notes are removed only with ``prune``, and only notes of ankigen's notetype
  whose book was read without errors in this sync.
"""

from __future__ import annotations

import hashlib
import html
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ankigen import interrupts
from ankigen.build import Plan
from ankigen.errors import UsageError
from ankigen.extract import plain_text
from ankigen.model import DeckSpec, MediaFile, RenderedCard, Severity, Theme

if TYPE_CHECKING:
    from anki.collection import Collection
    from anki.models import NotetypeDict

RECORDS_KEY = "ankigen.sync"  # guid -> [digest of the fields ankigen wrote, deck, tags]
INSTALL = "ankigen sync needs Anki's Python package: pip install 'ankigen[anki]'"
IN_USE = "close Anki first: the collection is in use"
COLLECTION_FILE = "collection.anki2"


def require_anki() -> None:
    """Fail early, with the install command, when the ``anki`` package is missing."""
    try:
        import anki.collection  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL) from None


# Where the collection is.


def anki_base() -> Path:
    """Anki's data folder for this platform (``ANKI_BASE`` overrides it, as it does for Anki)."""
    if os.environ.get("ANKI_BASE"):
        return Path(os.environ["ANKI_BASE"])
    if sys.platform == "win32":  # pragma: no cover (Windows)
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "Anki2"
    if sys.platform == "darwin":  # pragma: no cover (macOS)
        return Path.home() / "Library" / "Application Support" / "Anki2"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "Anki2"


def profiles(base: Path) -> list[str]:
    """The profiles in Anki's data folder: its folders that hold a collection."""
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / COLLECTION_FILE).is_file())


def find_collection(collection: Path | None, profile: str | None) -> Path:
    """The collection file named, else the profile's, else the only profile's."""
    if collection is not None and profile is not None:
        raise UsageError("--collection and --profile: name one collection, not both")
    if collection is not None:
        if collection.is_dir() and (collection / COLLECTION_FILE).is_file():
            return collection / COLLECTION_FILE
        if not collection.is_file():
            raise UsageError(f"{collection}: no such collection file (a collection.anki2)")
        return collection
    base = anki_base()
    found = profiles(base)
    if profile is not None:
        if profile not in found:
            known = f"profiles there: {', '.join(found)}" if found else "no profiles there"
            raise UsageError(f"no Anki profile {profile!r} in {base} ({known})")
        return base / profile / COLLECTION_FILE
    if len(found) == 1:
        return base / found[0] / COLLECTION_FILE
    if not found:
        raise UsageError(f"no Anki profile in {base}: name the collection with --collection FILE")
    raise UsageError(f"several Anki profiles in {base}: choose one with --profile NAME ({', '.join(found)})")


@contextmanager
def open_collection(path: Path) -> Iterator[Collection]:
    """The collection, opened by this process alone; refused when Anki (or anyone) has it open.
    Checked to exist first: Anki would create a missing file."""
    from anki.collection import Collection
    from anki.errors import DBError

    if not path.is_file():
        raise UsageError(f"{path}: no such collection file")
    try:
        col = Collection(str(path))
    except DBError as exc:
        raise _open_error(exc, path) from None
    try:
        yield col
    finally:
        col.close()


def _open_error(exc: Exception, path: Path) -> UsageError:
    if "already open" in str(exc):
        return UsageError(IN_USE)
    return UsageError(f"{path}: not an Anki collection, or damaged (Anki could not open it)")


def _reopen(col: Collection) -> None:
    from anki.errors import DBError

    try:
        col.reopen()
    except DBError as exc:
        raise _open_error(exc, Path(col.path)) from None


# What a sync would do.


@dataclass(frozen=True, slots=True)
class Entry:
    """A note a sync reports: where it is and what it asks."""

    deck: str
    question: str
    source: str


@dataclass(frozen=True, slots=True)
class _Update:
    note_id: int
    fields: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Changes:
    """What a sync does (or, with ``dry_run``, would do) to a collection."""

    collection: Path
    added: tuple[Entry, ...]
    updated: tuple[Entry, ...]
    moved: tuple[Entry, ...]
    unchanged: int
    conflicts: tuple[Entry, ...]
    gone: tuple[Entry, ...]  # removed with prune; else only listed
    notetype_changed: bool
    pruned: bool
    applied: bool
    backup: Path | None = None
    # How to apply it.
    _new: tuple[DeckSpec, ...] = field(default=(), repr=False)
    _updates: tuple[_Update, ...] = field(default=(), repr=False)
    _moves: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _remove: tuple[int, ...] = field(default=(), repr=False)
    _records: Mapping[str, list[Any]] | None = field(default=None, repr=False)  # None: unchanged
    _media: tuple[MediaFile, ...] = field(default=(), repr=False)  # images of updated notes

    @property
    def changes_anything(self) -> bool:
        changed = self._new or self._updates or self._moves or self._remove or self.notetype_changed
        return bool(changed) or self._records is not None


def _digest(fields: Sequence[str]) -> str:
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()[:16]


def _fields(spec: DeckSpec, card: RenderedCard) -> tuple[str, ...]:
    """The note's fields exactly as a package holds them (``package.note_fields``)."""
    from ankigen.package import note_fields

    return note_fields(card, spec)


def _owned(tag: str) -> bool:
    return tag == "ankigen" or tag.startswith("ankigen::")


def _clean_books(built: Plan) -> set[str]:
    """Books read without errors in this build: only their notes may be listed as gone."""
    broken = {d.loc.path for d in built.diagnostics if d.severity is Severity.ERROR}
    return {spec.book for spec in built.decks if not any(c.loc.path in broken for c in spec.cards)}


def _notetype_parts(theme: Theme) -> tuple[tuple[str, ...], str, str, str]:
    from ankigen.package import notetype

    model = notetype(theme)
    template = model.templates[0]
    return tuple(f["name"] for f in model.fields), str(model.css), str(template["qfmt"]), str(template["afmt"])


def _our_notetype(col: Collection) -> NotetypeDict | None:
    from anki.models import NotetypeId

    from ankigen.package import MODEL_ID

    return col.models.get(NotetypeId(MODEL_ID))


def _notetype_differs(col: Collection, theme: Theme) -> bool:
    """Whether the collection's ankigen notetype needs the current CSS and templates; an error when
    its fields are no longer ankigen's (renamed in Anki): updating notes would then scramble them."""
    existing = _our_notetype(col)
    if existing is None:
        return False  # the import of the first new note brings it
    names, css, qfmt, afmt = _notetype_parts(theme)
    have = tuple(f["name"] for f in existing["flds"])
    if have != names:
        raise UsageError(
            f"the collection's ankigen notetype has the fields {', '.join(have)}, not {', '.join(names)}: "
            "rename them back in Anki (Tools > Manage Note Types) before syncing"
        )
    template = existing["tmpls"][0]
    return bool(existing["css"] != css or template["qfmt"] != qfmt or template["afmt"] != afmt)


def plan_sync(
    col: Collection, path: Path, built: Plan, *, prune: bool = False, force: bool = False, theme: Theme = Theme()
) -> Changes:
    """Compare the build with the collection; change nothing."""
    from ankigen.package import MODEL_ID

    records: dict[str, list[Any]] = dict(col.get_config(RECORDS_KEY, {}))
    fresh = dict(records)
    db = col.db
    assert db is not None  # open_collection yields an open collection
    rows = db.all("select id, guid, flds, tags from notes where mid = ?", MODEL_ID)
    ours = {guid: (nid, flds.split("\x1f"), tags.split()) for nid, guid, flds, tags in rows}
    others = set(db.list("select guid from notes where mid != ?", MODEL_ID))
    decks_of: dict[int, list[tuple[int, str]]] = {}
    for nid, cid, did in db.all(
        "select c.nid, c.id, c.did from cards c join notes n on n.id = c.nid where n.mid = ?", MODEL_ID
    ):
        decks_of.setdefault(nid, []).append((cid, col.decks.name(did)))

    added: list[Entry] = []
    updated: list[Entry] = []
    moved: list[Entry] = []
    conflicts: list[Entry] = []
    new_specs: list[DeckSpec] = []
    updates: list[_Update] = []
    media: dict[str, MediaFile] = {}
    moves: dict[str, list[int]] = {}
    unchanged = 0
    wanted: set[str] = set()
    for spec in built.decks:
        new_cards: list[RenderedCard] = []
        for card in spec.cards:
            wanted.add(card.guid)
            entry = Entry(spec.deck_name, card.title, card.source)
            want = _fields(spec, card)
            record = records.get(card.guid)
            if card.guid in others:  # another notetype holds this GUID: Anki would not update it
                conflicts.append(entry)
                continue
            if card.guid not in ours:
                new_cards.append(card)
                added.append(entry)
                fresh[card.guid] = [_digest(want), spec.deck_name, list(spec.tags)]
                continue
            nid, have, tags = ours[card.guid]
            edited = record is not None and _digest(have) != record[0]
            if tuple(have) != want and edited and not force:
                conflicts.append(entry)
                continue
            owned = set(record[2]) if record else set()
            new_tags = tuple([t for t in tags if not (_owned(t) or t in owned or t in spec.tags)] + list(spec.tags))
            changed = False
            if tuple(have) != want or sorted(new_tags) != sorted(tags):
                updates.append(_Update(nid, want, new_tags))
                media.update((m.name, m) for m in spec.media if any(m.name in value for value in want))
                updated.append(entry)
                changed = True
            cards = decks_of.get(nid, [])
            last_deck = record[1] if record else None
            if any(deck != spec.deck_name for _, deck in cards) and last_deck != spec.deck_name:
                moves.setdefault(spec.deck_name, []).extend(cid for cid, _ in cards)
                moved.append(entry)
                changed = True
            unchanged += not changed
            fresh[card.guid] = [_digest(want), spec.deck_name, list(spec.tags)]
        if new_cards:
            new_specs.append(replace(spec, cards=tuple(new_cards)))

    clean = _clean_books(built)
    gone: list[Entry] = []
    remove: list[int] = []
    for guid, (nid, have, _tags) in ours.items():
        book = html.unescape(have[4]) if len(have) > 4 else ""  # the field is HTML: ``&amp;`` for ``&``
        if guid in wanted or book not in clean:
            continue
        deck = decks_of[nid][0][1] if decks_of.get(nid) else ""
        gone.append(Entry(deck, plain_text(have[0]), html.unescape(have[6]) if len(have) > 6 else ""))
        if prune:
            remove.append(nid)
            fresh.pop(guid, None)
    # Records of notes deleted in Anki go too.
    fresh = {guid: record for guid, record in fresh.items() if guid in ours or guid in wanted}
    return Changes(
        collection=path,
        added=tuple(added),
        updated=tuple(updated),
        moved=tuple(moved),
        unchanged=unchanged,
        conflicts=tuple(conflicts),
        gone=tuple(gone),
        notetype_changed=_notetype_differs(col, theme),
        pruned=prune,
        applied=False,
        _new=tuple(new_specs),
        _updates=tuple(updates),
        _moves={deck: tuple(ids) for deck, ids in moves.items()},
        _remove=tuple(remove),
        _records=fresh if fresh != records else None,
        _media=tuple(media.values()),
    )


# Applying it.


def backup(col: Collection, path: Path) -> Path | None:
    """A backup by Anki's own function into the ``backups`` folder beside the collection, where
    Anki desktop keeps a profile's backups (and rotates them as it does its own)."""
    folder = path.parent / "backups"
    folder.mkdir(exist_ok=True)
    col.create_backup(backup_folder=str(folder), force=True, wait_for_completion=True)
    # The backup leaves the collection open but no longer locked against other processes (checked
    # with anki 26.9.3): reopened, it is ours alone again, or in use by someone who took it meanwhile.
    col.close()
    _reopen(col)
    # Named by the minute and second: a second backup within the same second replaces the first.
    return max(folder.glob("backup-*.colpkg"), key=lambda p: p.stat().st_mtime_ns, default=None)


def _update_notetype(col: Collection, theme: Theme) -> None:
    existing = _our_notetype(col)
    assert existing is not None  # a change is planned only for a notetype that exists
    _names, css, qfmt, afmt = _notetype_parts(theme)
    existing["css"] = css
    existing["tmpls"][0]["qfmt"] = qfmt
    existing["tmpls"][0]["afmt"] = afmt
    col.models.update_dict(existing)


def _import(col: Collection, staged: Path) -> None:
    """New notes through Anki's own package import: the notetype and decks are the ones imported
    packages make, and the notes' media is copied into the collection's media folder."""
    from anki.collection import ImportAnkiPackageRequest
    from anki.import_export_pb2 import ImportAnkiPackageOptions, ImportAnkiPackageUpdateCondition

    never = ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_NEVER
    options = ImportAnkiPackageOptions(with_scheduling=False, update_notes=never, update_notetypes=never)
    col.import_anki_package(ImportAnkiPackageRequest(package_path=str(staged), options=options))


def apply(col: Collection, changes: Changes, *, make_backup: bool = True, theme: Theme = Theme()) -> Changes:
    """Make the planned changes, after a backup; Ctrl-C waits until they are all made. Everything
    that can fail on the notes' side (reading images, writing the package of new notes) is done
    before the first change."""
    from anki.cards import CardId
    from anki.decks import DeckId
    from anki.notes import NoteId

    from ankigen.package import stage_apkg

    if not changes.changes_anything:
        return replace(changes, applied=True)
    images = {m.name: m.path.read_bytes() for m in changes._media if not col.media.have(m.name)}
    with tempfile.TemporaryDirectory(prefix="ankigen-sync-") as tmp:
        now = time.time()
        staged = (
            stage_apkg(changes._new, Path(tmp) / "new.apkg", timestamp=now, first_id=int(now * 1000), theme=theme)
            if changes._new
            else None
        )
        saved = backup(col, changes.collection) if make_backup else None
        with interrupts.held():  # each backend call is its own transaction: none is left half done
            if changes.notetype_changed:
                _update_notetype(col, theme)
            for name, data in images.items():
                col.media.write_data(name, data)
            notes = []
            for update in changes._updates:
                note = col.get_note(NoteId(update.note_id))
                note.fields = list(update.fields)
                note.tags = list(update.tags)
                notes.append(note)
            if notes:
                col.update_notes(notes)
            for deck, card_ids in changes._moves.items():
                col.set_deck([CardId(c) for c in card_ids], DeckId(col.decks.id(deck) or 0))
            if staged:
                _import(col, staged)
            if changes._remove:
                col.remove_notes([NoteId(n) for n in changes._remove])
            if changes._records is not None:
                col.set_config(RECORDS_KEY, changes._records)
    return replace(changes, applied=True, backup=saved)


def sync(
    built: Plan,
    path: Path,
    *,
    prune: bool = False,
    dry_run: bool = False,
    force: bool = False,
    make_backup: bool = True,
    theme: Theme = Theme(),
) -> Changes:
    """Apply a build to the collection at ``path`` (or, with ``dry_run``, only say what it would do)."""
    with open_collection(path) as col:
        changes = plan_sync(col, path, built, prune=prune, force=force, theme=theme)
        return changes if dry_run else apply(col, changes, make_backup=make_backup, theme=theme)
