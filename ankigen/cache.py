"""The render cache: a card's HTML fields, keyed by everything that goes into them (its Markdown,
its images' media names, and the versions of the renderer and its libraries). One file per notes
file, written atomically; the folder is safe to delete at any time, and a stale entry is never
served because any change to the inputs changes the key.

The files are data (JSON for the extracted book, plain text for the rendered cards), checked field
by field when read: whoever can write the cache folder can at worst make the next build slower (a
file that is not exactly what we wrote is ignored), never run code in it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ankigen import __version__, codes
from ankigen.fsutil import write_atomic
from ankigen.model import Book, Card, Diagnostic, Extracted, Fields, ImageRef, Section, SourceLoc

# The modules whose code decides what a card extracts and renders to (and how it is stored): a
# change to any of them (a new release, or a developer's edit) starts a fresh cache, so no stale
# entry is ever served. A test follows their imports to keep this list whole.
SHAPING = (
    "cache", "codes", "errors", "extract", "fences", "htmltags", "markdown_github", "model", "render", "sanitize",
)  # fmt: skip
# The libraries they use, and the ones those use to shape their output (the standard library's
# share, html.parser included, goes with the Python version).
LIBRARIES = ("beautifulsoup4", "soupsieve", "markdown", "pygments", "pymdown-extensions", "nh3")


def default_dir() -> Path:
    """``$ANKIGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/ankigen``, else ``~/.cache/ankigen``."""
    explicit = os.environ.get("ANKIGEN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ankigen"


@lru_cache(maxsize=1)
def namespace() -> str:
    """Our code and the libraries' versions: a change to any of them starts a fresh cache."""
    parts = [f"ankigen={__version__}", f"python={platform.python_version()}"]
    here = Path(__file__).parent
    for module in SHAPING:
        parts.append(hashlib.sha256(here.joinpath(f"{module}.py").read_bytes()).hexdigest())
    parts += [f"{name}={version}" for name, version in library_versions(LIBRARIES).items()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def library_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed distributions' versions ("?" if not installed), as ``importlib.metadata.version``
    finds them (the first ``*.dist-info`` or ``*.egg-info`` of each name along ``sys.path``), read
    from their metadata files' ``Version:`` line: without loading importlib.metadata and the email
    package it parses metadata with, which take longer to load than the whole namespace takes to
    make. Anything else (a zip on ``sys.path``, an unreadable file) is left to importlib.metadata."""
    wanted = {_normalized(name): name for name in names}
    versions: dict[str, str] = {}
    for entry in sys.path:
        if len(versions) == len(wanted):
            break
        try:
            children = os.listdir(entry or ".")
        except OSError:
            continue
        for child in children:
            stem, _, kind = child.lower().rpartition(".")
            name = wanted.get(_normalized(stem.partition("-")[0])) if kind in ("dist-info", "egg-info") else None
            if name is not None and name not in versions:
                found = _metadata_version(Path(entry or ".", child, "METADATA" if kind == "dist-info" else "PKG-INFO"))
                versions[name] = found if found is not None else _from_importlib(name)
    return {name: versions.get(name) or _from_importlib(name) for name in names}


def _metadata_version(path: Path) -> str | None:
    """The ``Version:`` header of a metadata file; None if it cannot be read."""
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    return None  # the headers are over
                key, colon, value = line.partition(":")
                if colon and key == "Version":
                    return value.strip()
    except (OSError, ValueError):
        return None
    return None


def _from_importlib(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name) or "?"  # None: metadata without a version (Python 3.11)
    except metadata.PackageNotFoundError:
        return "?"


def card_key(card: Card, media: Mapping[str, str]) -> str:
    """Everything a card's fields are rendered from."""
    parts = [card.question, card.answer, *card.resources, "\x1e", *card.references, "\x1e"]
    parts += [f"{src}\x1f{name}" for src, name in sorted(media.items())]
    return hashlib.blake2b("\x1d".join(parts).encode(), digest_size=16).hexdigest()


# A file larger than this is let go of once its cache key is made, and read again only when it
# must be extracted: never two copies of it in memory.
EXTRACT_CACHE_LIMIT = 8_000_000


def _file_key(source: Path) -> str:
    return hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:24]


class _DamagedError(ValueError):
    """A cache file that is not what this version writes: ignored, costing only speed."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


def _write_json(path: Path, data: object) -> None:
    """Store ``data``; a failure (a full disk, a read-only folder) only costs speed."""
    try:
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, encoded)
    except (OSError, ValueError):
        return


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _DamagedError
    return value


def _number(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _DamagedError
    return value


def _maybe(value: object, kind: Callable[[object], Any]) -> Any:
    return None if value is None else kind(value)


def _items(value: object, size: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (size is not None and len(value) != size):
        raise _DamagedError
    return value


def _texts(value: object) -> tuple[str, ...]:
    return tuple(_text(item) for item in _items(value))


# Extracted <-> JSON. Every place in a file is in that file, so a place is stored as [line, col].


def _place(loc: SourceLoc, shown: str) -> list[int]:
    if loc.path != shown:
        raise _DamagedError
    return [loc.line, loc.col]


def _loc(value: object, shown: str) -> SourceLoc:
    line, col = _items(value, 2)
    return SourceLoc(shown, _number(line), _number(col))


def _image_data(ref: ImageRef, shown: str) -> list[Any]:
    return [ref.src, *_place(ref.loc, shown)]


def _image(value: object, shown: str) -> ImageRef:
    src, line, col = _items(value, 3)
    return ImageRef(_text(src), _loc([line, col], shown))


def _card_data(card: Card, shown: str) -> list[Any]:
    images = [_image_data(ref, shown) for ref in card.images]
    return [card.question, card.answer, list(card.resources), list(card.references), images,
            _place(card.loc, shown), card.explicit_id, card.key]  # fmt: skip


def _card(value: object, shown: str) -> Card:
    question, answer, resources, references, images, loc, explicit_id, key = _items(value, 8)
    return Card(
        question=_text(question),
        answer=_text(answer),
        resources=_texts(resources),
        references=_texts(references),
        images=tuple(_image(ref, shown) for ref in _items(images)),
        loc=_loc(loc, shown),
        explicit_id=_maybe(explicit_id, _text),
        key=_text(key),
    )


def _section_data(section: Section, shown: str) -> list[Any]:
    cards = [_card_data(card, shown) for card in section.cards]
    return [section.name, section.number, section.total, section.status, _place(section.loc, shown), cards]


def _section(value: object, shown: str) -> Section:
    name, number, total, status, loc, cards = _items(value, 6)
    return Section(
        _text(name),
        _maybe(number, _number),
        _maybe(total, _number),
        _maybe(status, _text),
        _loc(loc, shown),
        tuple(_card(card, shown) for card in _items(cards)),
    )


def _extracted_data(extracted: Extracted, shown: str) -> dict[str, Any]:
    book = extracted.book
    stored = None
    if book is not None:
        if str(book.path) != shown:
            raise _DamagedError
        cover = _image_data(book.cover, shown) if book.cover else None
        stored = [book.title, cover, [_section_data(s, shown) for s in book.sections]]
    found = [[d.code, *_place(d.loc, shown), d.message] for d in extracted.diagnostics]
    return {"book": stored, "diagnostics": found}


def _diagnostic(value: object, shown: str) -> Diagnostic:
    """A stored finding; its severity is the registry's now, so a change to it is never stale."""
    code, line, col, message = _items(value, 4)
    if code not in codes.CODES:
        raise _DamagedError
    return codes.diagnostic(code, _loc([line, col], shown), _text(message))


def _extracted(value: object, shown: str) -> Extracted:
    if not isinstance(value, dict) or set(value) != {"book", "diagnostics"}:
        raise _DamagedError
    book = None
    if value["book"] is not None:
        title, cover, sections = _items(value["book"], 3)
        book = Book(
            _text(title),
            Path(shown),
            _maybe(cover, lambda c: _image(c, shown)),
            tuple(_section(s, shown) for s in _items(sections)),
        )
    return Extracted(book, tuple(_diagnostic(d, shown) for d in _items(value["diagnostics"])))


def extract_key(data: bytes, shown: str) -> str:
    """What a file's extraction depends on: its bytes and the name it is shown by."""
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update(b"\x00" + shown.encode())
    return digest.hexdigest()


def cached_extract(
    folder: Path, source: Path, shown: str, key: str, extract: Callable[[], Extracted], *, store: bool = True
) -> Extracted:
    """``extract()``, or what it gave last time for the same ``extract_key()``; what it gives now is
    stored unless ``store`` is false (the other processes building shares of the same book)."""
    path = folder / namespace() / f"{_file_key(source)}.extract.json"
    stored = _read_json(path)
    if isinstance(stored, list) and len(stored) == 2 and stored[0] == key:
        try:
            return _extracted(stored[1], shown)
        except _DamagedError:
            pass
    result = extract()
    if store:
        with contextlib.suppress(_DamagedError):  # a place outside the file: not cached
            _write_json(path, [key, _extracted_data(result, shown)])
    return result


# The rendered cards are stored as text, not JSON: records split by RS, fields by US (control
# characters that rendered HTML never holds; a card whose fields do is simply not stored). Reading
# it back is a few splits, several times faster than parsing JSON, and checked just as strictly:
# a file that is not exactly what this version writes is ignored.
_RENDERS = "ankigen renders 1\n"
_RS, _US = "\x1e", "\x1f"
_KEY = re.compile(r"[0-9a-f]{32}")


def _read_renders(path: Path) -> dict[str, Fields] | None:
    try:
        text = path.read_bytes().decode()
    except (OSError, ValueError):
        return None
    if not text.startswith(_RENDERS):
        return None
    entries: dict[str, Fields] = {}
    body = text[len(_RENDERS) :]
    for record in body.split(_RS) if body else ():
        parts = record.split(_US)
        if len(parts) != 6 or parts[5] not in ("0", "1") or not _KEY.fullmatch(parts[0]):
            return None
        entries[parts[0]] = Fields(parts[1], parts[2], parts[3], parts[4], parts[5] == "1")
    return entries


def _write_renders(path: Path, entries: Mapping[str, Fields]) -> None:
    """Store rendered cards; a failure (a full disk, a read-only folder) only costs speed."""
    records = []
    for key, f in entries.items():
        parts = (key, f.question, f.answer, f.resources, f.references)
        if not any(_RS in part or _US in part for part in parts):
            records.append(_US.join((*parts, "1" if f.unsafe else "0")))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, (_RENDERS + _RS.join(records)).encode())
    except (OSError, ValueError):
        return


def _share_files(folder: Path, source: Path) -> list[Path]:
    return sorted((folder / namespace()).glob(f"{_file_key(source)}.[0-9]*of[0-9]*.renders"))


def has_renders(folder: Path | None, source: Path) -> bool:
    """Whether the cache holds rendered cards of this notes file (in one file or in shares)."""
    if folder is None:
        return False
    return (folder / namespace() / f"{_file_key(source)}.renders").is_file() or bool(_share_files(folder, source))


class RenderCache:
    """The cached fields of one notes file's cards; ``save()`` keeps only the entries used.

    A book built cold by several processes keeps one file per share (``part``); the next build,
    made by one process as the book is cached, reads them all and keeps one file again."""

    def __init__(self, folder: Path | None, source: Path, part: str = "") -> None:
        name = f"{_file_key(source)}{'.' + part if part else ''}.renders"
        self.path = folder / namespace() / name if folder else None
        self.shares = _share_files(folder, source) if folder and not part else []
        self.entries: dict[str, Fields] = {}
        self.used: dict[str, Fields] = {}
        self.misses = 0
        for path in [self.path, *self.shares] if self.path is not None else []:
            stored = _read_renders(path)
            if stored is not None:
                self.entries.update(stored)

    def get(self, key: str) -> Fields | None:
        found = self.entries.get(key)
        if found is not None:
            self.used[key] = found
        return found

    def put(self, key: str, fields: Fields) -> None:
        self.misses += 1
        self.used[key] = fields

    def save(self) -> None:
        """Write the entries this build used, if anything changed; a failure only costs speed."""
        unchanged = self.misses == 0 and len(self.used) == len(self.entries) and not self.shares
        if self.path is None or unchanged:
            return
        _write_renders(self.path, self.used)
        for share in self.shares:
            share.unlink(missing_ok=True)
