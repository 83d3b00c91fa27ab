"""Configuration: ``ankigen.toml``, or ``[tool.ankigen]`` in ``pyproject.toml``, in the current
folder (or a file named with ``--config``). Command-line flags win over it. Paths in it are relative
to the file. An unknown key or a value of the wrong kind is an error naming the file and the key."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ankigen.errors import UsageError
from ankigen.model import Split

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

FILE_NAME = "ankigen.toml"
_TAG = re.compile(r"^[^\s\"]+$")


@dataclass(frozen=True, slots=True)
class Config:
    """Settings read from a configuration file; None where the file says nothing."""

    origin: Path | None = None
    sources: tuple[Path, ...] | None = None
    out: Path | None = None
    split: Split | None = None
    deck_name: str | None = None
    tags: tuple[str, ...] = ()
    light_theme: str | None = None
    dark_theme: str | None = None
    root: Path | None = None
    jobs: int | None = None
    strict: bool | None = None
    exclude: tuple[str, ...] = ()
    collection: Path | None = None  # ankigen sync: a collection.anki2
    profile: str | None = None  # ankigen sync: an Anki profile's name


_KEYS = (
    "sources", "out", "exclude", "split", "deck-name", "tags", "light-theme", "dark-theme", "root", "jobs", "strict",
    "collection", "profile",
)  # fmt: skip


def find(folder: Path) -> tuple[Path, Mapping[str, Any]] | None:
    """The configuration in ``folder``: ``ankigen.toml`` first, then ``pyproject.toml``'s table."""
    own = folder / FILE_NAME
    if own.is_file():
        return own, _read(own)
    if own.exists():
        raise UsageError(f"{own}: not a file (a configuration file must be one)")
    project = folder / "pyproject.toml"
    if project.is_file():
        table = _read(project).get("tool", {}).get("ankigen")
        if table is not None:
            if not isinstance(table, dict):
                raise UsageError(f"{project}: [tool.ankigen] must be a table")
            return project, table
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None


def load(explicit: Path | None = None, folder: Path | None = None) -> Config:
    """The configuration named, or found in ``folder`` (default: the current folder)."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: no such configuration file")
        data: Mapping[str, Any] = _read(explicit)
        if explicit.name == "pyproject.toml":
            data = data.get("tool", {}).get("ankigen", {})
        return parse(explicit, data)
    found = find(folder or Path.cwd())
    return parse(*found) if found else Config()


def parse(origin: Path, data: Mapping[str, Any]) -> Config:
    """Check every key and value; paths become relative to the file's folder."""
    where = f"{origin}: [tool.ankigen]" if origin.name == "pyproject.toml" else str(origin)
    unknown = sorted(set(data) - set(_KEYS))
    if unknown == ["tool"] and origin.name != "pyproject.toml":
        raise UsageError(f"{where}: write the keys without the [tool.ankigen] line (that line is for pyproject.toml)")
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(_KEYS)})")
    base = origin.parent

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{where}: {key!r} must be a string")
        return value

    def path(key: str) -> Path | None:
        value = text(key)
        return base / value if value is not None else None

    sources = data.get("sources")
    if sources is not None:
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise UsageError(f"{where}: 'sources' must be a path or a list of paths")
    exclude = data.get("exclude", [])
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p.strip("/") for p in exclude):
        raise UsageError(f"{where}: 'exclude' must be a glob pattern or a list of them")
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
        raise UsageError(f"{where}: 'tags' must be a list of tags without spaces")
    split = text("split")
    if split is not None and split not in {s.value for s in Split}:
        raise UsageError(f"{where}: 'split' must be one of chapter, book, all")
    deck_name = text("deck-name")
    if deck_name is not None:
        check_deck_name(deck_name, where)
    jobs = data.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise UsageError(f"{where}: 'jobs' must be a whole number of 1 or more")
    strict = data.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise UsageError(f"{where}: 'strict' must be true or false")
    light, dark = text("light-theme"), text("dark-theme")
    for key, style in (("light-theme", light), ("dark-theme", dark)):
        if style is not None:
            check_theme(style, f"{where}: {key!r}")
    return Config(
        origin=origin,
        sources=tuple(base / s for s in sources) if sources is not None else None,
        out=path("out"),
        split=Split(split) if split else None,
        deck_name=deck_name,
        tags=tuple(tags),
        light_theme=light,
        dark_theme=dark,
        root=path("root"),
        jobs=jobs,
        strict=strict,
        exclude=tuple(exclude),
        collection=path("collection"),
        profile=text("profile"),
    )


def check_deck_name(template: str, where: str) -> None:
    """A deck name template may use ``{book}`` and ``{chapter}``, nothing else."""
    try:
        template.format(book="B", chapter="C")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"{where}: deck name {template!r} may use only {{book}} and {{chapter}} ({exc})") from None


def check_theme(style: str, where: str) -> None:
    """A code theme must be a Pygments style."""
    from pygments.styles import get_all_styles

    styles = sorted(get_all_styles())
    if style not in styles:
        raise UsageError(f"{where}: no Pygments style {style!r} (styles: {', '.join(styles)})")
