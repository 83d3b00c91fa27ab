"""The build: find notes -> extract -> render -> package. The one place that sequences the stages
and gathers their diagnostics; the CLI only calls ``build()`` and prints what it returns.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ankigen import codes, manifest, render
from ankigen import extract as ex
from ankigen.errors import AnkigenError, UsageError
from ankigen.model import (
    Book,
    Card,
    DeckSpec,
    Diagnostic,
    ImageRef,
    MediaFile,
    RenderedCard,
    Section,
    Severity,
    SourceLoc,
)
from ankigen.package import guid_for, write_apkg

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a build will write, rendered, with what was found on the way."""

    decks: tuple[DeckSpec, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: int
    books: int

    @property
    def cards(self) -> int:
        return sum(len(d.cards) for d in self.decks)

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)


def build_timestamp() -> float:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        return time.time()
    try:
        value = int(raw.strip())
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {raw!r}") from None
    if value <= 0:
        raise UsageError("SOURCE_DATE_EPOCH must be after 1970 (a time of 0 breaks Anki)")
    return float(value)


def display_path(path: Path) -> str:
    """A path as the user would write it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def discover(paths: Sequence[Path]) -> list[Path]:
    """Notes files named, or found as ``*.md`` under named folders (hidden folders skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*.md")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not files:
                raise UsageError(f"{path}: no .md files in this folder")
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def default_root(paths: Sequence[Path]) -> Path:
    """The folder images may come from: the git work tree of the notes, else the current folder
    when the notes are inside it, else the folder given (or the named file's folder)."""
    first = paths[0].resolve()
    start = first if first.is_dir() else first.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    cwd = Path.cwd().resolve()
    if all(p.resolve().is_relative_to(cwd) for p in paths):
        return cwd
    return start


def slug(text: str) -> str:
    """``Learning eBPF`` -> ``learning-ebpf``: ASCII, lowercase, for file names and tags."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "notes"


def section_label(section: Section, book: Book) -> str:
    """``Chapter 01`` (zero-padded so Anki sorts chapters in order) or the section's own name."""
    if section.number is None:
        return section.name
    widest = max(
        [len(str(s.total)) for s in book.sections if s.total] + [len(str(s.number)) for s in book.sections if s.number],
        default=2,
    )
    return f"Chapter {section.number:0{max(2, widest)}d}"


def _deck_part(text: str) -> str:
    return " ".join(text.replace("::", ":").split())


@dataclass
class _Media:
    """Image sources resolved to packaged files, shared by a build so each file is hashed once."""

    root: Path
    diagnostics: list[Diagnostic]
    by_path: dict[Path, MediaFile | None] = field(default_factory=dict)

    def resolve(self, ref: ImageRef, notes_file: Path) -> MediaFile | None:
        src = ref.src
        if _REMOTE.match(src) and not src.lower().startswith("file:"):
            return None
        target = (notes_file.parent / src.split("#", 1)[0].split("?", 1)[0]).resolve()
        if target in self.by_path:
            return self.by_path[target]
        media: MediaFile | None = None
        if not target.is_relative_to(self.root):
            self._warn(
                ref,
                codes.UNSAFE_IMAGE,
                f"image {src!r} is outside the notes folder {display_path(self.root)}; not packaged",
            )
        elif not target.is_file():
            self._warn(ref, codes.MISSING_IMAGE, f"image {src!r} not found")
        else:
            try:
                digest = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
            except OSError as exc:
                self._warn(ref, codes.MISSING_IMAGE, f"image {src!r} cannot be read: {exc.strerror}")
            else:
                stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", target.stem)[:40]
                media = MediaFile(f"ankigen-{stem}-{digest}{target.suffix.lower()}", target)
        self.by_path[target] = media
        return media

    def _warn(self, ref: ImageRef, code: str, message: str) -> None:
        self.diagnostics.append(codes.diagnostic(code, ref.loc, message))


def card_guid(book: Book, card: Card, occurrence: int) -> str:
    """A note's GUID: the book title and the card's question (or its explicit id), never its answer
    or position. The n-th repeat of a question in a book gets ``#n`` so both cards survive."""
    identity = f"id:{card.explicit_id}" if card.explicit_id else ex.question_key(card.question)
    parts = ["ankigen", " ".join(book.title.split()), identity]
    if occurrence > 1:
        parts.append(f"#{occurrence}")
    return guid_for(*parts)


def render_book(book: Book, media: _Media, shown_path: str, diagnostics: list[Diagnostic]) -> list[DeckSpec]:
    """Every non-empty section of a book as a DeckSpec, cards rendered to HTML."""
    specs: list[DeckSpec] = []
    seen: dict[str, int] = {}
    book_slug = slug(book.title)
    cover = media.resolve(book.cover, book.path) if book.cover else None
    for section in book.sections:
        if not section.cards:
            continue
        label = section_label(section, book)
        is_preamble = section.number is None and section.name == book.title and section is book.sections[0]
        deck_name = _deck_part(book.title) if is_preamble else f"{_deck_part(book.title)}::{_deck_part(label)}"
        files: dict[Path, MediaFile] = {}
        if cover:
            files[cover.path] = cover
        rendered: list[RenderedCard] = []
        for card in section.cards:
            names: dict[str, str] = {}
            for ref in card.images:
                found = media.resolve(ref, book.path)
                if found:
                    names[ref.src] = found.name
                    files[found.path] = found
            key = card.explicit_id or ex.question_key(card.question)
            seen[key] = seen.get(key, 0) + 1
            fields = render.render_fields(card, names)
            if fields.unsafe:
                diagnostics.append(codes.diagnostic(codes.UNSAFE_HTML, card.loc, "unsafe HTML removed from this card"))
            rendered.append(
                RenderedCard(
                    guid=card_guid(book, card, seen[key]),
                    question=fields.question,
                    answer=fields.answer,
                    resources=fields.resources,
                    references=fields.references,
                    source=f"{shown_path}:{card.loc.line}",
                    loc=card.loc,
                    title=key if not card.explicit_id else ex.question_key(card.question),
                )
            )
        cover_html = f'<img class="ag-cover" src="{html.escape(cover.name)}" alt="">' if cover else ""
        description = (
            f"{cover_html}<p><b>{html.escape(book.title)}</b></p><p>{html.escape(label)} · {len(rendered)} cards</p>"
            "<p><small>Built by ankigen from "
            f"{html.escape(shown_path)}</small></p>"
        )
        label_slug = "" if is_preamble else slug(label)
        specs.append(
            DeckSpec(
                deck_name=deck_name,
                book=book.title,
                chapter=label,
                description=description,
                tags=("ankigen", f"ankigen::{book_slug}", f"ankigen::{book_slug}::{label_slug or 'book'}"),
                cards=tuple(rendered),
                media=tuple(files.values()),
                filename=f"{book_slug}-{label_slug}.apkg" if label_slug else f"{book_slug}.apkg",
            )
        )
    return specs


def _empty_notice(book: Book, shown: str) -> Diagnostic | None:
    empty = [section_label(s, book) for s in book.sections if not s.cards]
    if not empty or book.card_count == 0:
        return None
    names = ", ".join(empty)
    noun = "section" if len(empty) == 1 else "sections"
    return codes.diagnostic(codes.EMPTY_SECTIONS, SourceLoc(shown, 1), f"skipped {len(empty)} empty {noun}: {names}")


def plan(
    paths: Sequence[Path],
    *,
    root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Read, extract and render every notes file under ``paths``; write nothing.

    Broken files are reported and left out; every good file still yields its decks.
    """
    files = discover(paths)
    diagnostics: list[Diagnostic] = []
    media = _Media((root or default_root(paths)).resolve(), diagnostics)
    specs: list[DeckSpec] = []
    books = 0
    titles: dict[str, str] = {}
    for path in files:
        shown = display_path(path)
        if progress:
            progress(shown)
        try:
            extracted = ex.read_notes(path, shown)
        except AnkigenError as exc:
            diagnostics.append(codes.diagnostic(codes.READ_ERROR, exc.loc or SourceLoc(shown, 1), exc.message))
            continue
        diagnostics.extend(extracted.diagnostics)
        book = extracted.book
        if book is None or book.card_count == 0:
            continue
        if book.title in titles:
            message = f"the same book title {book.title!r} as {titles[book.title]}; rename one title"
            diagnostics.append(codes.diagnostic(codes.SAME_TITLE, SourceLoc(shown, 1), message))
            continue
        titles[book.title] = shown
        books += 1
        notice = _empty_notice(book, shown)
        if notice:
            diagnostics.append(notice)
        specs.extend(render_book(book, media, shown, diagnostics))
    return Plan(tuple(specs), tuple(_ordered(diagnostics)), len(files), books)


@dataclass(frozen=True, slots=True)
class Written:
    """What a write did: packages written, stale ones removed, cards that left the notes."""

    packages: tuple[Path, ...]
    removed: tuple[Path, ...]
    gone: tuple[manifest.CardRecord, ...]
    timestamp: int


def _stamp(timestamp: float | None, previous: manifest.Manifest | None) -> int:
    """The modification time of every note and of the notetype: given, ``SOURCE_DATE_EPOCH``, or
    now, and then always later than the previous build into the same folder, so Anki's
    "update if newer" applies a rebuild made within the same second."""
    if timestamp is not None:
        return int(timestamp)
    if os.environ.get("SOURCE_DATE_EPOCH", "").strip():
        return int(build_timestamp())
    now = int(time.time())
    return max(now, previous.timestamp + 1) if previous else now


def write(built: Plan, out_dir: Path, *, timestamp: float | None = None) -> Written:
    """Write each planned deck as ``out_dir/<book>-<chapter>.apkg`` (temporary file, then rename),
    remove the packages the previous build wrote that this one does not, and keep a manifest."""
    _prepare_out_dir(out_dir)
    previous = manifest.read(out_dir)
    stamp = _stamp(timestamp, previous)
    written: list[Path] = []
    next_id = max(stamp * 1000, 1)
    for spec in built.decks:
        written.append(write_apkg(spec, out_dir / spec.filename, timestamp=stamp, first_id=next_id))
        next_id += 2 * len(spec.cards) + 1
    current = manifest.Manifest.of(built.decks, stamp)
    removed: list[Path] = []
    gone: tuple[manifest.CardRecord, ...] = ()
    if previous:
        for name in sorted(set(previous.files) - set(current.files)):
            stale = out_dir / name
            if Path(name).name == name and name.endswith(".apkg") and stale.is_file():
                stale.unlink()
                removed.append(stale)
        now = {card.guid for card in current.cards}
        gone = tuple(card for card in previous.cards if card.guid not in now)
    manifest.write(out_dir, current)
    return Written(tuple(written), tuple(removed), gone, stamp)


def _ordered(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.loc.path, d.loc.line, d.code))


def _prepare_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create the output folder: {exc.strerror or exc}") from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"{out_dir}: the output folder is not writable")
