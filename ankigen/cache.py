"""The render cache: a card's HTML fields, keyed by everything that goes into them (its Markdown,
its images' media names, and the versions of the renderer and its libraries). One file per notes
file, written atomically; the folder is safe to delete at any time, and a stale entry is never
served because any change to the inputs changes the key."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ankigen import __version__
from ankigen.fsutil import write_atomic
from ankigen.model import Card, Extracted, Fields

# The modules whose code decides what a card extracts and renders to: a change to any of them
# (a new release, or a developer's edit) starts a fresh cache, so no stale entry is ever served.
_SHAPING = ("extract", "fences", "htmltags", "model", "render", "sanitize")
_LIBRARIES = ("markdown", "pygments", "pymdown-extensions", "nh3")


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
    parts = [f"ankigen={__version__}"]
    here = Path(__file__).parent
    for module in _SHAPING:
        parts.append(hashlib.sha256(here.joinpath(f"{module}.py").read_bytes()).hexdigest())
    for name in _LIBRARIES:
        try:
            parts.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name}=?")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def card_key(card: Card, media: Mapping[str, str]) -> str:
    """Everything a card's fields are rendered from."""
    parts = [card.question, card.answer, *card.resources, "\x1e", *card.references, "\x1e"]
    parts += [f"{src}\x1f{name}" for src, name in sorted(media.items())]
    return hashlib.blake2b("\x1d".join(parts).encode(), digest_size=16).hexdigest()


# Files larger than this are extracted from scratch each time: caching them would keep a second
# copy of the file in memory.
EXTRACT_CACHE_LIMIT = 8_000_000


def _file_key(source: Path) -> str:
    return hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:24]


def cached_extract(
    folder: Path, source: Path, shown: str, data: bytes, extract: Callable[[bytes], Extracted]
) -> Extracted:
    """``extract(data)``, or what it gave last time for the same bytes under the same name."""
    path = folder / namespace() / f"{_file_key(source)}.extract.pickle"
    key = hashlib.blake2b(data + b"\x00" + shown.encode(), digest_size=16).hexdigest()
    try:
        with path.open("rb") as handle:
            stored_key, stored = pickle.load(handle)
        if stored_key == key and isinstance(stored, Extracted):
            return stored
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        pass
    result = extract(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, pickle.dumps((key, result), protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass
    return result


class RenderCache:
    """The cached fields of one notes file's cards; ``save()`` keeps only the entries used."""

    def __init__(self, folder: Path | None, source: Path) -> None:
        self.path = folder / namespace() / f"{_file_key(source)}.pickle" if folder else None
        self.entries: dict[str, Fields] = {}
        self.used: dict[str, Fields] = {}
        self.misses = 0
        if self.path is not None:
            try:
                with self.path.open("rb") as handle:
                    loaded = pickle.load(handle)
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
                self.entries = {}

    def get(self, key: str) -> Fields | None:
        found = self.entries.get(key)
        if isinstance(found, Fields):
            self.used[key] = found
            return found
        return None

    def put(self, key: str, fields: Fields) -> None:
        self.misses += 1
        self.used[key] = fields

    def save(self) -> None:
        """Write the entries this build used, if anything changed; a failure only costs speed."""
        if self.path is None or (self.misses == 0 and len(self.used) == len(self.entries)):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, pickle.dumps(self.used, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return
