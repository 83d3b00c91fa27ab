"""Which notes files a build reads and which books it builds: the files found under the paths given
(less those ``exclude`` names), and one file per book title when a library holds copies of a book.
``build``, ``check``, ``list`` and ``preview`` all decide through here, so they count the same books."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from ankigen import codes
from ankigen.errors import UsageError
from ankigen.model import Diagnostic, SourceLoc


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Notes files named, or found as ``*.md`` under named folders (hidden folders skipped, and
    files an ``exclude`` pattern matches). A file named on its own is always read."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.md") if p.is_file() and not _hidden(p.relative_to(path)))
            if not files:
                raise UsageError(f"{path}: no .md files in this folder")
            kept = [p for p in files if not excluded(p.relative_to(path), exclude)]
            if not kept:
                raise UsageError(f"{path}: every .md file in this folder is excluded")
            found.extend(kept)
        elif path.is_file():
            found.append(path)
        elif path.exists():  # a named pipe would make the build wait for a writer that never comes
            raise UsageError(f"{path}: not a regular file (a notes file must be one)")
        else:
            raise UsageError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def excluded(relative: Path, patterns: Iterable[str]) -> bool:
    """Does a pattern match this path (relative to the folder named), or a folder it is in? As in
    ``.gitignore``: a pattern without ``/`` (but at its end) matches a name at any depth
    (``README.md``, ``drafts/``); one with ``/`` matches from the named folder
    (``subjects/*/isbn-*.md``, ``/old``); ``*`` stays within a name, ``**`` spans folders."""
    parts = PurePosixPath(relative.as_posix()).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        anchored = "/" in pattern.rstrip("/")
        pattern = pattern.strip("/")
        if anchored:
            if any(_glob(pattern).fullmatch(prefix) for prefix in prefixes):
                return True
        elif any(_glob(pattern).fullmatch(part) for part in parts):
            return True
    return False


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression over ``/``-separated paths."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[index + 2 :]:
            end = pattern.index("]", index + 2)
            body = pattern[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def content_digest(data: bytes) -> str:
    """The notes a file holds, whatever its BOM and line endings: copies saved by different editors
    compare equal."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(data).hexdigest()


def title_key(title: str) -> str:
    """Titles that are one book to Anki: its deck names ignore case, the notes' identity spaces."""
    return " ".join(title.split()).casefold()


@dataclass(frozen=True, slots=True)
class Candidate:
    """A notes file with cards, as the choice among copies sees it."""

    path: Path
    shown: str
    title: str
    cards: int
    digest: str  # content_digest() of the file


@dataclass(frozen=True, slots=True)
class Choice:
    """The files a build takes (by shown path), and a line for every file it leaves out."""

    left_out: frozenset[str]
    diagnostics: tuple[Diagnostic, ...]


def choose(candidates: Iterable[Candidate]) -> Choice:
    """One file per book title: the copy with the most cards, ties going to the first path. A copy
    with the same notes is a notice (built once); one with other notes is an error naming both."""
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(title_key(candidate.title), []).append(candidate)
    left_out: set[str] = set()
    diagnostics: list[Diagnostic] = []
    for group in groups.values():
        if len(group) < 2:
            continue
        kept, *others = sorted(group, key=lambda c: (-c.cards, str(c.path.resolve())))
        for other in others:
            left_out.add(other.shown)
            loc = SourceLoc(other.shown, 1)
            if other.digest == kept.digest:
                message = f"a copy of {kept.shown} (the same notes): the book is built once, from {kept.shown}"
                diagnostics.append(codes.diagnostic(codes.SAME_NOTES, loc, message))
                continue
            why = (
                f"it has more cards: {kept.cards} against {other.cards}"
                if kept.cards > other.cards
                else f"both have {kept.cards} cards and its path comes first"
            )
            message = (
                f"the book {kept.title!r} again, with other notes: {kept.shown} is built ({why}) and this "
                "file is left out; merge the two, or exclude one"
            )
            diagnostics.append(codes.diagnostic(codes.SAME_TITLE, loc, message))
    return Choice(frozenset(left_out), tuple(diagnostics))
