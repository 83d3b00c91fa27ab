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
from ankigen.cache import EXTRACT_CACHE_LIMIT, RenderCache, cached_extract
from ankigen.decks import MediaResolver, display_path, empty_notice, file_part, render_book
from ankigen.errors import AnkigenError, InternalError, UsageError
from ankigen.fsutil import prepare_out_dir
from ankigen.library import Candidate, choose, content_digest, discover
from ankigen.model import Book, DeckOptions, DeckSpec, Diagnostic, Severity, SourceLoc, Split


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


def _work_tree(folder: Path) -> Path | None:
    """The git work tree holding ``folder`` (resolved), if any."""
    return next((f for f in (folder, *folder.parents) if (f / ".git").exists()), None)


class ImageRoots:
    """Where each notes file's images may come from: ``--root`` when given; else the notes' git
    work tree; else the path given that holds the file (a named file: its own folder). Never the
    current folder, nor anything above what was given."""

    def __init__(self, paths: Sequence[Path], root: Path | None = None) -> None:
        self.explicit = root.resolve() if root is not None else None
        self.folders = [p.resolve() for p in paths if p.is_dir()]
        self.trees: dict[Path, Path | None] = {}

    def __call__(self, path: Path) -> Path:
        if self.explicit is not None:
            return self.explicit
        folder = path.resolve().parent
        if folder not in self.trees:
            self.trees[folder] = _work_tree(folder)
        tree = self.trees[folder]
        if tree is not None:
            return tree
        return next((given for given in self.folders if folder.is_relative_to(given)), folder)


def _book(
    path: Path, shown: str, root: Path, cache_dir: Path | None, options: DeckOptions
) -> tuple[Book | None, list[Diagnostic], Iterator[DeckSpec], str]:
    """One notes file read and extracted, with the digest of its notes; its decks rendered (through
    the cache) as they are consumed, so a writer holds one chapter's HTML at a time. The
    diagnostics grow meanwhile."""
    diagnostics: list[Diagnostic] = []
    digest = ""
    try:
        data = ex.read_bytes(path, shown)
        digest = content_digest(data)
        if cache_dir is None or len(data) > EXTRACT_CACHE_LIMIT:
            del data  # a large file: read it again, holding one copy of it in memory, not two
            extracted = ex.read_notes(path, shown)
        else:
            extracted = cached_extract(
                cache_dir, path, shown, data, lambda raw: ex.extract(ex.decode(raw, shown), shown)
            )
    except AnkigenError as exc:
        diagnostics.append(codes.diagnostic(codes.READ_ERROR, exc.loc or SourceLoc(shown, 1), exc.message))
        return None, diagnostics, iter(()), digest
    diagnostics.extend(extracted.diagnostics)
    book = extracted.book
    if book is None or book.card_count == 0:
        return book, diagnostics, iter(()), digest
    notice = empty_notice(book, shown)
    if notice:
        diagnostics.append(notice)

    def decks(book: Book) -> Iterator[DeckSpec]:
        cache = RenderCache(cache_dir, path)
        yield from render_book(book, MediaResolver(root, diagnostics), shown, diagnostics, cache, options)
        cache.save()

    return book, diagnostics, decks(book), digest


def plan(
    paths: Sequence[Path],
    *,
    root: Path | None = None,
    cache_dir: Path | None = None,
    options: DeckOptions = DeckOptions(),
    exclude: Sequence[str] = (),
) -> Plan:
    """Read, extract and render every notes file under ``paths`` in this process; write nothing.

    Broken files are reported and left out; every good file still yields its decks; of copies of
    a book, one file is taken (``library.choose``).
    """
    files = discover(paths, exclude)
    image_root = ImageRoots(paths, root)
    read: list[tuple[Candidate | None, list[Diagnostic], list[DeckSpec]]] = []
    for path in files:
        shown = display_path(path)
        book, found, rendered, digest = _book(path, shown, image_root(path), cache_dir, options)
        decks = list(rendered)
        candidate = Candidate(path, shown, book.title, book.card_count, digest) if book and decks else None
        read.append((candidate, found, decks))
    choice = choose(c for c, _, _ in read if c is not None)
    diagnostics = list(choice.diagnostics)
    specs: list[DeckSpec] = []
    books = 0
    for candidate, found, decks in read:
        if candidate is not None and candidate.shown in choice.left_out:
            continue
        diagnostics.extend(found)
        specs.extend(decks)
        books += candidate is not None
    return Plan(tuple(specs), tuple(_ordered(diagnostics)), len(files), books)


def catalog(
    paths: Sequence[Path], exclude: Sequence[str] = ()
) -> tuple[list[tuple[str, Book]], tuple[Diagnostic, ...]]:
    """The books (with cards) a build of ``paths`` takes, by shown path, read but not rendered; and
    the files it cannot read or leaves out. What ``ankigen list`` shows."""
    read: list[tuple[Candidate, Book]] = []
    diagnostics: list[Diagnostic] = []
    for path in discover(paths, exclude):
        shown = display_path(path)
        try:
            data = ex.read_bytes(path, shown)
            book = ex.extract(ex.decode(data, shown), shown).book
        except AnkigenError as exc:
            diagnostics.append(codes.diagnostic(codes.READ_ERROR, exc.loc or SourceLoc(shown, 1), exc.message))
            continue
        if book is not None and book.card_count:
            read.append((Candidate(path, shown, book.title, book.card_count, content_digest(data)), book))
    choice = choose(candidate for candidate, _ in read)
    taken = [(c.shown, book) for c, book in read if c.shown not in choice.left_out]
    return taken, tuple(_ordered([*diagnostics, *choice.diagnostics]))


# The parallel build: one job a notes file.

ALL_PACKAGE = "decks.apkg"  # the one package of --split all


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
    options: DeckOptions


@dataclass(frozen=True, slots=True)
class StagedPackage:
    """A package a build made: staged as a temporary file, or already in place and unchanged."""

    filename: str
    decks: tuple[str, ...]
    cards: int
    digest: str
    staged: Path | None  # None: the package in the output folder already holds exactly this


@dataclass(frozen=True, slots=True)
class _Outcome:
    path: Path
    shown: str
    digest: str  # library.content_digest() of the notes file
    title: str | None  # None: the file gave no cards
    diagnostics: tuple[Diagnostic, ...]
    packages: tuple[StagedPackage, ...]
    records: tuple[manifest.CardRecord, ...]
    decks: tuple[DeckSpec, ...]  # --split all: the decks themselves, packaged by the main process


def _digest(decks: Sequence[DeckSpec], options: DeckOptions, stamp_part: str) -> str:
    """What a package holds (each note's fields exactly as packaged), so an unchanged one need not
    be written again."""
    from ankigen.package import note_fields, notetype_signature

    parts = [notetype_signature(options.theme), stamp_part]
    for spec in decks:
        parts += [spec.deck_name, spec.description, " ".join(spec.tags), spec.filename]
        for card in spec.cards:
            parts += [card.guid, *note_fields(card, spec)]
        parts += [f"{m.name}\x1f{m.path}" for m in spec.media]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()


def _package(
    decks: Sequence[DeckSpec], filename: str, out_dir: Path | None, stamp: int, first_id: int,
    previous: Mapping[str, str], options: DeckOptions,
) -> StagedPackage:  # fmt: skip
    """Stage one package, unless the output folder already holds exactly this one."""
    # Under SOURCE_DATE_EPOCH the time is part of the bytes; otherwise an unchanged package keeps
    # the file (and the older time) it already has, which Anki has or will take as it is.
    names = tuple(spec.deck_name for spec in decks)
    cards = sum(len(spec.cards) for spec in decks)
    if out_dir is None:  # a check: nothing is written, so nothing needs comparing
        return StagedPackage(filename, names, cards, "", None)
    reproducible = bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())
    digest = _digest(decks, options, str(stamp) if reproducible else "")
    temp: Path | None = None
    if not (previous.get(filename) == digest and (out_dir / filename).is_file()):
        from ankigen.package import stage_apkg

        temp = stage_apkg(decks, out_dir / filename, timestamp=stamp, first_id=first_id, theme=options.theme)
    return StagedPackage(filename, names, cards, digest, temp)


def _first_id(stamp: int) -> int:
    """Note and card ids count up from the build time in milliseconds (never 0)."""
    return max(stamp * 1000, 1)


def _ids_needed(decks: Sequence[DeckSpec]) -> int:
    """How many ids a package of these decks takes: a note id and a card id per card, and one spare."""
    return sum(2 * len(spec.cards) for spec in decks) + 1


def _records(decks: Sequence[DeckSpec]) -> list[manifest.CardRecord]:
    return [manifest.CardRecord(c.guid, c.title, spec.deck_name, c.source) for spec in decks for c in spec.cards]


def _run(job: _Job) -> _Outcome:
    """One notes file, start to end: the unit of work of a build job."""
    book, diagnostics, rendered, digest = _book(job.path, job.shown, job.root, job.cache_dir, job.options)
    packages: list[StagedPackage] = []
    records: list[manifest.CardRecord] = []
    kept: tuple[DeckSpec, ...] = ()
    next_id = job.first_id
    split = job.options.split
    if split is Split.CHAPTER:
        for spec in rendered:  # one chapter's HTML in memory at a time
            packages.append(_package([spec], spec.filename, job.out_dir, job.stamp, next_id, job.previous, job.options))
            next_id += _ids_needed([spec])
            records.extend(_records([spec]))
    else:
        decks = list(rendered)
        records.extend(_records(decks))
        if split is Split.ALL:
            kept = tuple(decks)
        elif decks and book is not None:
            filename = f"{file_part(book.title)}.apkg"
            packages.append(_package(decks, filename, job.out_dir, job.stamp, next_id, job.previous, job.options))
    title = book.title if book is not None and records else None
    return _Outcome(job.path, job.shown, digest, title, tuple(diagnostics), tuple(packages), tuple(records), kept)


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


def _outcomes(jobs: list[_Job], workers: int, progress: Callable[[str, int], None] | None) -> Iterator[_Outcome]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _run(job)
            if progress:
                progress(job.shown, len(jobs))
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and os.name == "posix" else None)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        for outcome in pool.map(_run, jobs):
            yield outcome
            if progress:
                progress(outcome.shown, len(jobs))


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build found and did."""

    diagnostics: tuple[Diagnostic, ...]
    packages: tuple[StagedPackage, ...]
    files: int
    books: int
    written: tuple[Path, ...]  # packages written (renamed into place) by this build
    unchanged: tuple[Path, ...]  # packages already in place with exactly this content
    removed: tuple[Path, ...]  # packages of the previous build no longer made
    gone: tuple[manifest.CardRecord, ...]  # cards of the previous build that left the notes
    timestamp: int
    committed: bool  # False: nothing was written (check, or --strict with findings)

    @property
    def cards(self) -> int:
        return sum(p.cards for p in self.packages)

    @property
    def decks(self) -> int:
        return sum(len(p.decks) for p in self.packages)

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
    options: DeckOptions = DeckOptions(),
    progress: Callable[[str, int], None] | None = None,
    exclude: Sequence[str] = (),
) -> BuildResult:
    """Build the decks of every notes file under ``paths`` into ``out_dir`` (``None``: only
    check), one package per chapter, book or in all as ``options.split`` says. The output is the
    same whatever the number of jobs."""
    files = discover(paths, exclude)
    image_root = ImageRoots(paths, root)
    previous = None
    created = out_dir is not None and not out_dir.exists()
    if out_dir is not None:
        prepare_out_dir(out_dir)
        previous = manifest.read(out_dir)
    stamp = _stamp(timestamp, previous)
    known = {f.name: f.digest for f in previous.packages} if previous else {}
    work: list[_Job] = []
    next_id = _first_id(stamp)
    for path in files:
        work.append(
            _Job(path, display_path(path), image_root(path), cache_dir, out_dir, stamp, next_id, known, options)
        )
        next_id += _id_space(path)

    outcomes: list[_Outcome] = []
    packages: list[StagedPackage] = []
    try:
        for outcome in _outcomes(work, jobs or default_jobs(), progress):
            outcomes.append(outcome)  # one by one: an interrupt still finds what they staged
        taken = _take(outcomes)
        packages.extend(taken.packages)
        if options.split is Split.ALL and taken.decks:
            packages.append(_package(taken.decks, ALL_PACKAGE, out_dir, stamp, _first_id(stamp), known, options))
        check_distinct(packages)
    except BaseException:
        _discard([p.staged for o in outcomes for p in o.packages] + [p.staged for p in packages])
        raise
    _discard(taken.discarded)
    diagnostics, records, books = taken.diagnostics, taken.records, taken.books
    ordered = tuple(_ordered(diagnostics))
    failed_strict = strict and any(d.severity is Severity.WARNING for d in ordered)
    if out_dir is None or failed_strict:
        _discard([p.staged for p in packages])
        if created and out_dir is not None and not any(out_dir.iterdir()):
            out_dir.rmdir()  # leave no trace of a build that wrote nothing
        return BuildResult(ordered, tuple(packages), len(files), books, (), (), (), (), stamp, False)

    written = [_commit(p.staged, out_dir / p.filename) for p in packages if p.staged]
    unchanged = [out_dir / p.filename for p in packages if not p.staged]
    removed, gone = _finish(out_dir, previous, stamp, packages, records)
    return BuildResult(
        ordered, tuple(packages), len(files), books, tuple(written), tuple(unchanged), removed, gone, stamp, True
    )


@dataclass(frozen=True, slots=True)
class _Taken:
    """What a build keeps of its jobs' outcomes once copies of a book are left out."""

    diagnostics: tuple[Diagnostic, ...]
    packages: tuple[StagedPackage, ...]
    records: tuple[manifest.CardRecord, ...]
    decks: tuple[DeckSpec, ...]
    books: int
    discarded: tuple[Path | None, ...]  # staged packages of the files left out


def _take(outcomes: Sequence[_Outcome]) -> _Taken:
    """The outcomes of the files the build takes (``library.choose``); of a file left out, only the
    line that says so."""
    candidates = (
        Candidate(o.path, o.shown, o.title, len(o.records), o.digest) for o in outcomes if o.title is not None
    )
    choice = choose(candidates)
    kept = [o for o in outcomes if o.shown not in choice.left_out]
    return _Taken(
        diagnostics=choice.diagnostics + tuple(d for o in kept for d in o.diagnostics),
        packages=tuple(p for o in kept for p in o.packages),
        records=tuple(r for o in kept for r in o.records),
        decks=tuple(d for o in kept for d in o.decks),
        books=sum(1 for o in kept if o.title is not None),
        discarded=tuple(p.staged for o in outcomes if o.shown in choice.left_out for p in o.packages),
    )


def check_distinct(packages: Sequence[StagedPackage]) -> None:
    """Refuse to write two packages to one path: decks are one package per file name by
    construction (same-named sections merged, file names from distinct titles), so this is a bug."""
    first: dict[str, StagedPackage] = {}
    for package in packages:
        other = first.setdefault(package.filename, package)
        if other is not package:
            decks = ", ".join(other.decks + package.decks)
            raise InternalError(f"two packages would be written to {package.filename} ({decks}); nothing was written")


def _finish(
    out_dir: Path,
    previous: manifest.Manifest | None,
    stamp: int,
    packages: Sequence[StagedPackage],
    records: Sequence[manifest.CardRecord],
) -> tuple[tuple[Path, ...], tuple[manifest.CardRecord, ...]]:
    """Remove the previous build's packages that this one no longer makes, find the cards that
    left the notes, and record this build in the manifest."""
    removed: list[Path] = []
    gone: tuple[manifest.CardRecord, ...] = ()
    if previous:
        names = {p.filename for p in packages}
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
    entries = tuple(manifest.PackageRecord(p.filename, p.digest) for p in packages)
    manifest.write(out_dir, manifest.Manifest(stamp, entries, tuple(records)))
    return tuple(removed), gone


def _commit(staged: Path, target: Path) -> Path:
    os.replace(staged, target)
    return target


def _discard(staged: Sequence[Path | None]) -> None:
    for path in staged:
        if path is not None:
            path.unlink(missing_ok=True)


def write(built: Plan, out_dir: Path, *, timestamp: float | None = None) -> BuildResult:
    """Write planned decks, one package per chapter (for tests and tools that plan in-process)."""
    prepare_out_dir(out_dir)
    previous = manifest.read(out_dir)
    stamp = _stamp(timestamp, previous)
    next_id = _first_id(stamp)
    packages: list[StagedPackage] = []
    for spec in built.decks:
        packages.append(_package([spec], spec.filename, out_dir, stamp, next_id, {}, DeckOptions()))
        next_id += _ids_needed([spec])
    try:
        check_distinct(packages)
    except InternalError:
        _discard([p.staged for p in packages])
        raise
    written = [_commit(p.staged, out_dir / p.filename) for p in packages if p.staged]
    removed, gone = _finish(out_dir, previous, stamp, packages, _records(built.decks))
    return BuildResult(
        built.diagnostics, tuple(packages), built.files, built.books, tuple(written), (), removed, gone, stamp, True
    )


def _ordered(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.loc.path, d.loc.line, d.code))
