"""The build: find notes -> extract -> render -> package, one notes file per job, the jobs spread
over the CPUs. The one place that sequences the stages and gathers their diagnostics; the CLI only
calls ``build()`` (or ``plan()``) and prints what comes back.

Packages are staged as temporary files by the jobs and renamed into place only once every job is
done (and, with ``--strict``, only if nothing was found): a failed or killed build never leaves a
half-written ``.apkg``, nor damages the decks of the previous build.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ankigen import codes, manifest
from ankigen import extract as ex
from ankigen.cache import RenderCache
from ankigen.decks import MediaResolver, display_path, empty_notice, render_book
from ankigen.errors import AnkigenError, UsageError
from ankigen.model import Book, DeckSpec, Diagnostic, Severity, SourceLoc


@dataclass(frozen=True, slots=True)
class Plan:
    """Every deck a build would write, rendered, with what was found on the way."""

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


def _book(
    path: Path, shown: str, root: Path, cache_dir: Path | None
) -> tuple[Book | None, list[Diagnostic], Iterator[DeckSpec]]:
    """One notes file read and extracted; its decks rendered (through the cache) as they are
    consumed, so a writer holds one chapter's HTML at a time. The diagnostics grow meanwhile."""
    diagnostics: list[Diagnostic] = []
    try:
        extracted = ex.read_notes(path, shown)
    except AnkigenError as exc:
        diagnostics.append(codes.diagnostic(codes.READ_ERROR, exc.loc or SourceLoc(shown, 1), exc.message))
        return None, diagnostics, iter(())
    diagnostics.extend(extracted.diagnostics)
    book = extracted.book
    if book is None or book.card_count == 0:
        return book, diagnostics, iter(())
    notice = empty_notice(book, shown)
    if notice:
        diagnostics.append(notice)

    def decks(book: Book) -> Iterator[DeckSpec]:
        cache = RenderCache(cache_dir, path)
        yield from render_book(book, MediaResolver(root, diagnostics), shown, diagnostics, cache)
        cache.save()

    return book, diagnostics, decks(book)


def _same_title(shown: str, title: str, first: str) -> Diagnostic:
    message = f"the same book title {title!r} as {first}; rename one title"
    return codes.diagnostic(codes.SAME_TITLE, SourceLoc(shown, 1), message)


def plan(paths: Sequence[Path], *, root: Path | None = None, cache_dir: Path | None = None) -> Plan:
    """Read, extract and render every notes file under ``paths`` in this process; write nothing.

    Broken files are reported and left out; every good file still yields its decks.
    """
    files = discover(paths)
    image_root = (root or default_root(paths)).resolve()
    diagnostics: list[Diagnostic] = []
    specs: list[DeckSpec] = []
    titles: dict[str, str] = {}
    for path in files:
        shown = display_path(path)
        book, found, rendered = _book(path, shown, image_root, cache_dir)
        decks = list(rendered)
        diagnostics.extend(found)
        if book is None or not decks:
            continue
        if book.title in titles:
            diagnostics.append(_same_title(shown, book.title, titles[book.title]))
            continue
        titles[book.title] = shown
        specs.extend(decks)
    return Plan(tuple(specs), tuple(_ordered(diagnostics)), len(files), len(titles))


# The parallel build: one job a notes file.


@dataclass(frozen=True, slots=True)
class _Job:
    path: Path
    shown: str
    root: Path
    cache_dir: Path | None
    out_dir: Path | None  # None: check only, write nothing
    stamp: int
    first_id: int
    previous: Mapping[str, str]  # file name -> content digest of the package already in out_dir


@dataclass(frozen=True, slots=True)
class StagedDeck:
    """A package a job made: staged as a temporary file, or already in place and unchanged."""

    filename: str
    deck_name: str
    cards: int
    digest: str
    staged: Path | None  # None: the package in the output folder already holds exactly this


@dataclass(frozen=True, slots=True)
class _Outcome:
    shown: str
    title: str | None
    diagnostics: tuple[Diagnostic, ...]
    decks: tuple[StagedDeck, ...]
    records: tuple[manifest.CardRecord, ...]


def _digest(spec: DeckSpec, stamp_part: str) -> str:
    """What a package holds, so an unchanged one need not be written again."""
    from ankigen.package import notetype_signature

    parts = [notetype_signature(), stamp_part, spec.deck_name, spec.description, " ".join(spec.tags), spec.filename]
    for card in spec.cards:
        parts += [card.guid, card.question, card.answer, card.resources, card.references, card.source]
    parts += [f"{m.name}\x1f{m.path}" for m in spec.media]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


def _run(job: _Job) -> _Outcome:
    """One notes file, start to end: the unit of work of a build job."""
    book, diagnostics, specs = _book(job.path, job.shown, job.root, job.cache_dir)
    staged: list[StagedDeck] = []
    records: list[manifest.CardRecord] = []
    next_id = job.first_id
    reproducible = bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())
    for spec in specs:
        # Under SOURCE_DATE_EPOCH the time is part of the bytes; otherwise an unchanged deck keeps
        # the package (and older time) it already has, which Anki has or will take as it is.
        digest = _digest(spec, str(job.stamp) if reproducible else "")
        temp: Path | None = None
        if job.out_dir is not None and not (
            job.previous.get(spec.filename) == digest and (job.out_dir / spec.filename).is_file()
        ):
            from ankigen.package import stage_apkg

            temp = stage_apkg(spec, job.out_dir / spec.filename, timestamp=job.stamp, first_id=next_id)
        next_id += 2 * len(spec.cards) + 1
        staged.append(StagedDeck(spec.filename, spec.deck_name, len(spec.cards), digest, temp))
        records.extend(manifest.CardRecord(c.guid, c.title, spec.deck_name, c.source) for c in spec.cards)
    title = book.title if book is not None and staged else None
    return _Outcome(job.shown, title, tuple(diagnostics), tuple(staged), tuple(records))


def _id_space(path: Path) -> int:
    """Note and card ids a file may need: two per ``<details>`` it could hold, and one per deck."""
    try:
        data = path.read_bytes()
    except OSError:
        return 1
    return 2 * data.count(b"<details") + data.count(b"\n## ") + 2


def default_jobs() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def _outcomes(jobs: list[_Job], workers: int, progress: Callable[[str], None] | None) -> Iterator[_Outcome]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _run(job)
            if progress:
                progress(job.shown)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and os.name == "posix" else None)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        for outcome in pool.map(_run, jobs):
            yield outcome
            if progress:
                progress(outcome.shown)


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build found and did."""

    diagnostics: tuple[Diagnostic, ...]
    decks: tuple[StagedDeck, ...]
    files: int
    books: int
    written: tuple[Path, ...]  # packages written (renamed into place) by this build
    unchanged: tuple[Path, ...]  # packages already in place with exactly this content
    removed: tuple[Path, ...]  # packages of the previous build whose chapter is gone
    gone: tuple[manifest.CardRecord, ...]  # cards of the previous build that left the notes
    timestamp: int
    committed: bool  # False: nothing was written (check, or --strict with findings)

    @property
    def cards(self) -> int:
        return sum(d.cards for d in self.decks)

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity is severity)


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


def build(
    paths: Sequence[Path],
    out_dir: Path | None,
    *,
    root: Path | None = None,
    jobs: int | None = None,
    cache_dir: Path | None = None,
    timestamp: float | None = None,
    strict: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BuildResult:
    """Build one ``.apkg`` per non-empty chapter of every notes file under ``paths`` into
    ``out_dir`` (``None``: only check). The output is the same whatever the number of jobs."""
    files = discover(paths)
    image_root = (root or default_root(paths)).resolve()
    previous = None
    created = out_dir is not None and not out_dir.exists()
    if out_dir is not None:
        _prepare_out_dir(out_dir)
        previous = manifest.read(out_dir)
    stamp = _stamp(timestamp, previous)
    known = {f.name: f.digest for f in previous.packages} if previous else {}
    work: list[_Job] = []
    next_id = max(stamp * 1000, 1)
    for path in files:
        work.append(_Job(path, display_path(path), image_root, cache_dir, out_dir, stamp, next_id, known))
        next_id += _id_space(path)

    diagnostics: list[Diagnostic] = []
    decks: list[StagedDeck] = []
    records: list[manifest.CardRecord] = []
    titles: dict[str, str] = {}
    discarded: list[Path] = []
    try:
        for outcome in _outcomes(work, jobs or default_jobs(), progress):
            diagnostics.extend(outcome.diagnostics)
            staged = [d.staged for d in outcome.decks if d.staged]
            if outcome.title is None:
                continue
            if outcome.title in titles:
                diagnostics.append(_same_title(outcome.shown, outcome.title, titles[outcome.title]))
                discarded.extend(staged)
                continue
            titles[outcome.title] = outcome.shown
            decks.extend(outcome.decks)
            records.extend(outcome.records)
    except BaseException:
        _discard(out_dir, [d.staged for d in decks if d.staged] + discarded)
        raise
    _discard(out_dir, discarded)
    ordered = tuple(_ordered(diagnostics))
    failed_strict = strict and any(d.severity is Severity.WARNING for d in ordered)
    if out_dir is None or failed_strict:
        _discard(out_dir, [d.staged for d in decks if d.staged])
        if created and out_dir is not None and not any(out_dir.iterdir()):
            out_dir.rmdir()  # leave no trace of a build that wrote nothing
        return BuildResult(ordered, tuple(decks), len(files), len(titles), (), (), (), (), stamp, False)

    written = [_commit(d.staged, out_dir / d.filename) for d in decks if d.staged]
    unchanged = [out_dir / d.filename for d in decks if not d.staged]
    removed, gone = _finish(out_dir, previous, stamp, decks, records)
    return BuildResult(
        ordered, tuple(decks), len(files), len(titles), tuple(written), tuple(unchanged), removed, gone, stamp, True
    )


def _finish(
    out_dir: Path,
    previous: manifest.Manifest | None,
    stamp: int,
    decks: Sequence[StagedDeck],
    records: Sequence[manifest.CardRecord],
) -> tuple[tuple[Path, ...], tuple[manifest.CardRecord, ...]]:
    """Remove the previous build's packages whose chapter is gone, find the cards that left the
    notes, and record this build in the manifest."""
    removed: list[Path] = []
    gone: tuple[manifest.CardRecord, ...] = ()
    if previous:
        names = {d.filename for d in decks}
        for old in previous.packages:
            stale = out_dir / old.name
            if (
                old.name not in names
                and Path(old.name).name == old.name
                and stale.suffix == ".apkg"
                and stale.is_file()
            ):
                stale.unlink()
                removed.append(stale)
        now = {record.guid for record in records}
        gone = tuple(card for card in previous.cards if card.guid not in now)
    packages = tuple(manifest.PackageRecord(d.filename, d.digest) for d in decks)
    manifest.write(out_dir, manifest.Manifest(stamp, packages, tuple(records)))
    return tuple(removed), gone


def _commit(staged: Path, target: Path) -> Path:
    os.replace(staged, target)
    return target


def _discard(out_dir: Path | None, staged: Sequence[Path | None]) -> None:
    for path in staged:
        if path is not None:
            path.unlink(missing_ok=True)


def write(built: Plan, out_dir: Path, *, timestamp: float | None = None) -> BuildResult:
    """Write planned decks (tests and tools that plan in-process): same layout as ``build()``."""
    from ankigen.package import stage_apkg

    _prepare_out_dir(out_dir)
    previous = manifest.read(out_dir)
    stamp = _stamp(timestamp, previous)
    next_id = max(stamp * 1000, 1)
    written: list[Path] = []
    decks: list[StagedDeck] = []
    records: list[manifest.CardRecord] = []
    for spec in built.decks:
        temp = stage_apkg(spec, out_dir / spec.filename, timestamp=stamp, first_id=next_id)
        written.append(_commit(temp, out_dir / spec.filename))
        next_id += 2 * len(spec.cards) + 1
        decks.append(StagedDeck(spec.filename, spec.deck_name, len(spec.cards), _digest(spec, str(stamp)), None))
        records.extend(manifest.CardRecord(c.guid, c.title, spec.deck_name, c.source) for c in spec.cards)
    removed, gone = _finish(out_dir, previous, stamp, decks, records)
    return BuildResult(
        built.diagnostics, tuple(decks), built.files, built.books, tuple(written), (), removed, gone, stamp, True
    )


def _ordered(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.loc.path, d.loc.line, d.code))


def _prepare_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create the output folder: {exc.strerror or exc}") from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"{out_dir}: the output folder is not writable")
