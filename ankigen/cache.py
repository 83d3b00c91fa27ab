"""The render cache: a card's HTML fields, keyed by everything that goes into them (its Markdown,
its images' media names, and the versions of the renderer and its libraries). One file per notes
file, written atomically; the folder is safe to delete at any time, and a stale entry is never
served because any change to the inputs changes the key."""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ankigen import __version__
from ankigen.fsutil import write_atomic
from ankigen.model import Card, Fields

# Bump whenever the HTML a card renders to changes (render.py, sanitize.py) without a version
# of ankigen or of a library changing.
RENDERER_VERSION = "2"
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
    """Renderer and library versions: a new version of any of them starts a fresh cache."""
    versions = [f"ankigen={__version__}", f"renderer={RENDERER_VERSION}"]
    for name in _LIBRARIES:
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=?")
    return hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]


def card_key(card: Card, media: Mapping[str, str]) -> str:
    """Everything a card's fields are rendered from."""
    parts = [card.question, card.answer, *card.resources, "\x1e", *card.references, "\x1e"]
    parts += [f"{src}\x1f{name}" for src, name in sorted(media.items())]
    return hashlib.blake2b("\x1d".join(parts).encode(), digest_size=16).hexdigest()


class RenderCache:
    """The cached fields of one notes file's cards; ``save()`` keeps only the entries used."""

    def __init__(self, folder: Path | None, source: Path) -> None:
        self.path = (
            folder / namespace() / f"{hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:24]}.pickle"
            if folder
            else None
        )
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
