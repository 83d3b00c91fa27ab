"""The build: find notes -> extract -> render -> package, one notes file per job, the jobs spread
over the CPUs. The one place that sequences the stages and gathers their diagnostics; the CLI only
calls ``build()`` (or ``plan()``) and prints what comes back.

Packages are staged as temporary files by the jobs and renamed into place only once every job is
done (and, with ``--strict``, only if nothing was found): a failed, interrupted or killed build never
leaves a half-written ``.apkg``, nor damages the decks of the previous build. One build at a time
writes into an output folder (a lock file in it), and the clean-up after a build touches only the
books it read.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

from ankigen import codes, fsutil, interrupts, manifest
from ankigen import extract as ex
from ankigen.cache import EXTRACT_CACHE_LIMIT, RenderCache, cached_extract, extract_key, has_renders
from ankigen.decks import MediaResolver, deck_sizes, display_path, empty_notice, file_part, render_book
from ankigen.errors import AnkigenError, InternalError, UsageError
from ankigen.fsutil import prepare_out_dir
from ankigen.library import Candidate, choose, content_digest, discover
from ankigen.model import Book, DeckOptions, DeckSpec, Diagnostic, Extracted, Severity, Share, SourceLoc, Split


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


def _read_error(exc: AnkigenError, shown: str) -> Diagnostic:
    """A file that cannot be read, as the one line (AG001) that says so."""
    return codes.diagnostic(codes.READ_ERROR, exc.loc or SourceLoc(shown, 1), exc.message)


def _book(
    path: Path, shown: str, root: Path, cache_dir: Path | None, options: DeckOptions, share: Share = Share()
) -> tuple[Book | None, list[Diagnostic], Iterator[DeckSpec], str]:
    """One notes file read and extracted, with the digest of its notes; its decks (of its
    ``share``) rendered (through the cache) as they are consumed, so a writer holds one chapter's
    HTML at a time. The diagnostics grow meanwhile; those about the file as a whole come with the
    first share only."""
    diagnostics: list[Diagnostic] = []
    whole = diagnostics if share.index == 0 else []
    digest = ""
    try:
        data = ex.read_bytes(path, shown)
        digest = content_digest(data)
        key = extract_key(data, shown) if cache_dir is not None else ""
        large = len(data) > EXTRACT_CACHE_LIMIT
        if large:
            del data  # read again if need be, holding one copy of the file in memory, not two

        def fresh() -> Extracted:
            return ex.read_notes(path, shown) if large else ex.extract(ex.decode(data, shown), shown)

        if cache_dir is None:
            extracted = fresh()
        else:  # the shares of a book all extract it; one stores it
            extracted = cached_extract(cache_dir, path, shown, key, fresh, store=share.index == 0)
    except AnkigenError as exc:
        whole.append(_read_error(exc, shown))
        return None, diagnostics, iter(()), digest
    whole.extend(extracted.diagnostics)
    book = extracted.book
    if book is None or book.card_count == 0:
        return book, diagnostics, iter(()), digest
    notice = empty_notice(book, shown)
    if notice:
        whole.append(notice)

    def decks(book: Book) -> Iterator[DeckSpec]:
        cache = RenderCache(cache_dir, path, "" if share.count == 1 else f"{share.index}of{share.count}")
        media = MediaResolver(root, diagnostics)
        yield from render_book(book, media, shown, diagnostics, cache, options, share)
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
            diagnostics.append(_read_error(exc, shown))
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
    share: Share  # a big book is spread over the workers by runs of chapters (split by chapter)
    cached: bool  # the render cache holds this file's cards (of an earlier build)


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
    title: str | None  # None: the file could not be read
    clean: bool  # read without an error: what left its notes is really gone
    diagnostics: tuple[Diagnostic, ...]
    packages: tuple[StagedPackage, ...]
    records: tuple[manifest.CardRecord, ...]
    decks: tuple[DeckSpec, ...]  # --split all: the decks themselves, packaged by the main process


def _digest(decks: Sequence[DeckSpec], options: DeckOptions, stamp_part: str) -> str:
    """What a package holds (each note's fields exactly as packaged), so an unchanged one need not
    be written again."""
    from ankigen.package import deck_note_fields, notetype_signature

    parts = [notetype_signature(options.theme), stamp_part]
    for spec in decks:
        parts += [spec.deck_name, spec.description, " ".join(spec.tags), spec.filename]
        for card, fields in deck_note_fields(spec):
            parts.append(card.guid)
            parts += fields
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


def _ids_needed(cards: int) -> int:
    """How many ids a package of this many cards takes: a note id and a card id per card, and one spare."""
    return 2 * cards + 1


def _records(decks: Sequence[DeckSpec]) -> list[manifest.CardRecord]:
    return [manifest.CardRecord(c.guid, c.title, spec.deck_name, c.source) for spec in decks for c in spec.cards]


def _run(job: _Job) -> _Outcome:
    """One notes file, start to end: the unit of work of a build job."""
    book, diagnostics, rendered, digest = _book(job.path, job.shown, job.root, job.cache_dir, job.options, job.share)
    packages: list[StagedPackage] = []
    records: list[manifest.CardRecord] = []
    kept: tuple[DeckSpec, ...] = ()
    next_id = job.first_id
    split = job.options.split
    if split is Split.CHAPTER:
        if book is not None and job.share.count > 1:  # ids as if one job had made the decks before
            sizes = deck_sizes(book, job.options)
            next_id += sum(_ids_needed(size) for size in sizes[: job.share.decks(sizes).start])
        for spec in rendered:  # one chapter's HTML in memory at a time
            packages.append(_package([spec], spec.filename, job.out_dir, job.stamp, next_id, job.previous, job.options))
            next_id += _ids_needed(len(spec.cards))
            records.extend(_records([spec]))
    else:
        decks = list(rendered)
        records.extend(_records(decks))
        if split is Split.ALL:
            kept = tuple(decks)
        elif decks and book is not None:
            filename = f"{file_part(book.title)}.apkg"
            packages.append(_package(decks, filename, job.out_dir, job.stamp, next_id, job.previous, job.options))
    title = book.title if book is not None else None
    clean = book is not None and not any(d.severity is Severity.ERROR for d in diagnostics)
    return _Outcome(
        job.path, job.shown, digest, title, clean, tuple(diagnostics), tuple(packages), tuple(records), kept
    )


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


def _worker_init() -> None:
    """A worker leaves Ctrl-C (which a terminal sends to every process of the build) to the main
    process, which then stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _outcomes(
    jobs: list[_Job], workers: int, progress: Callable[[str, int], None] | None
) -> Generator[_Outcome, None, None]:
    """Every job's outcome, in the jobs' order; when the consumer stops early (an error, Ctrl-C),
    the workers are stopped at once rather than waited for (the caller removes what they staged)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _run(job)
            if progress:
                progress(job.shown, len(jobs))
        return
    import multiprocessing  # here, not at the top: a build of one job never loads it, nor logging
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods and os.name == "posix" else None)
    if context.get_start_method() == "fork" and not all(job.cached for job in jobs):
        # Cards to render: each worker would load the renderer and, to write packages, genanki and
        # its empty collection. Loaded here, before the fork, the workers share one load instead of
        # making their own: as fast on idle CPUs, half the work on busy ones.
        import ankigen.render  # noqa: F401

        if any(job.out_dir is not None for job in jobs):
            from ankigen.package import _empty_collection

            _empty_collection()
    pool = ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_worker_init)
    with _quiet_teardown(), pool:
        try:
            for outcome in pool.map(_run, jobs):
                yield outcome
                if progress:
                    progress(outcome.shown, len(jobs))
        except BaseException:
            # The executor has no public way to stop a running job (terminate_workers() is 3.14's).
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            for process in processes:
                process.join()
            raise


@contextmanager
def _quiet_teardown() -> Iterator[None]:
    """While a pool runs and is torn down: on Python before 3.12, the pool's own thread can fail
    with InvalidStateError when workers stopped at Ctrl-C leave futures already cancelled (it
    marks them broken), and print a traceback the user would see after "interrupted". Only that
    error of that thread is silenced; any other goes to the usual hook."""
    from concurrent.futures import InvalidStateError

    usual = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if not (args.exc_type is InvalidStateError and type(args.thread).__name__ == "_ExecutorManagerThread"):
            usual(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = usual


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
    waiting: Callable[[], None] | None = None,
) -> BuildResult:
    """Build the decks of every notes file under ``paths`` (less those ``exclude`` names) into
    ``out_dir`` (``None``: only check), one package per chapter, book or in all as
    ``options.split`` says. The output is the same whatever the number of jobs. While another
    build writes into ``out_dir``, this one calls ``waiting`` and waits for it."""
    files = discover(paths, exclude)
    if out_dir is None:
        return _build(paths, files, None, root, jobs, cache_dir, timestamp, strict, options, progress)
    created = not out_dir.exists()
    prepare_out_dir(out_dir)
    with fsutil.locked(out_dir, waiting):
        fsutil.remove_staged(out_dir)  # left by a build that was killed
        result = _build(paths, files, out_dir, root, jobs, cache_dir, timestamp, strict, options, progress)
        if created and not result.committed and {p.name for p in out_dir.iterdir()} == {fsutil.LOCK_NAME}:
            with suppress(OSError):  # leave no trace of a build that wrote nothing
                (out_dir / fsutil.LOCK_NAME).unlink()
                out_dir.rmdir()
    return result


def _build(
    paths: Sequence[Path], files: Sequence[Path], out_dir: Path | None, root: Path | None, jobs: int | None,
    cache_dir: Path | None, timestamp: float | None, strict: bool, options: DeckOptions,
    progress: Callable[[str, int], None] | None,
) -> BuildResult:  # fmt: skip
    image_root = ImageRoots(paths, root)
    previous = manifest.read(out_dir) if out_dir is not None else None
    stamp = _stamp(timestamp, previous)
    known = {f.name: f.digest for f in previous.packages} if previous else {}
    work: list[_Job] = []
    next_id = _first_id(stamp)
    workers = jobs or default_jobs()
    for path in files:
        space = _id_space(path)
        cached = has_renders(cache_dir, path)
        count = 1 if cached else _shares(len(files), workers, space, options)
        shown, images = display_path(path), image_root(path)
        work.extend(
            _Job(path, shown, images, cache_dir, out_dir, stamp, next_id, known, options, Share(index, count), cached)
            for index in range(count)
        )
        next_id += space

    outcomes: list[_Outcome] = []
    packages: list[StagedPackage] = []
    try:
        with closing(_outcomes(work, workers, progress)) as results:
            for outcome in results:
                outcomes.append(outcome)  # one by one: an interrupt still finds what they staged
        taken = _take(_whole_books(outcomes), out_dir)
        packages.extend(taken.packages)
        if options.split is Split.ALL and taken.decks:
            packages.append(_package(taken.decks, ALL_PACKAGE, out_dir, stamp, _first_id(stamp), known, options))
        check_distinct(packages)
        _discard(taken.discarded)
        ordered = tuple(_ordered(taken.diagnostics))
        failed_strict = strict and any(d.severity is Severity.WARNING for d in ordered)
        if out_dir is None or failed_strict:
            _discard([p.staged for p in packages])
            return BuildResult(ordered, tuple(packages), len(files), taken.built, (), (), (), (), stamp, False)
        with interrupts.held():  # the previous build or the whole new one, never a mix
            written = [_commit(p.staged, out_dir / p.filename) for p in packages if p.staged]
            unchanged = [out_dir / p.filename for p in packages if not p.staged]
            read = _Read(taken.books, taken.clean, tuple(p.resolve() for p in paths if p.is_dir()))
            removed, gone = _finish(out_dir, previous, stamp, packages, read)
    except BaseException:  # Ctrl-C (at any moment until the renames), an error: nothing staged is left
        _discard([p.staged for o in outcomes for p in o.packages] + [p.staged for p in packages])
        if out_dir is not None:
            fsutil.remove_staged(out_dir)  # what stopped workers were staging
        raise
    return BuildResult(
        ordered, tuple(packages), len(files), taken.built, tuple(written), tuple(unchanged), removed, gone, stamp, True
    )


# A book is spread over the workers when it is built cold (nothing of it cached), there are fewer
# books than workers, and it has at least this many cards (by the ids it may need): below that,
# reading it again in each costs more. Once cached, a rebuild renders too little to gain from it.
_SHARED_BOOK = 400


def _shares(files: int, workers: int, id_space: int, options: DeckOptions) -> int:
    """Into how many shares (runs of chapters, each a job) a notes file's decks are split."""
    if options.split is not Split.CHAPTER or files >= workers or id_space < 2 * _SHARED_BOOK:
        return 1
    return -(-workers // files)


def _whole_books(outcomes: Sequence[_Outcome]) -> list[_Outcome]:
    """The outcomes of the shares of a book (consecutive, in order) joined into the book's."""
    whole: list[_Outcome] = []
    for outcome in outcomes:
        if not whole or whole[-1].path != outcome.path:
            whole.append(outcome)
            continue
        first = whole[-1]
        whole[-1] = replace(
            first,
            clean=first.clean and outcome.clean,
            diagnostics=first.diagnostics + outcome.diagnostics,
            packages=first.packages + outcome.packages,
            records=first.records + outcome.records,
        )
    return whole


@dataclass(frozen=True, slots=True)
class _Taken:
    """What a build keeps of its jobs' outcomes once copies of a book are left out."""

    diagnostics: tuple[Diagnostic, ...]
    packages: tuple[StagedPackage, ...]
    decks: tuple[DeckSpec, ...]
    books: tuple[manifest.BookRecord, ...]  # the books built, and the clean ones that are now empty
    clean: frozenset[str]  # the books read without an error (by source): the scope of the clean-up
    built: int  # books with cards
    discarded: tuple[Path | None, ...]  # staged packages of the files left out


def _take(outcomes: Sequence[_Outcome], out_dir: Path | None) -> _Taken:
    """The outcomes of the files the build takes (``library.choose``); of a file left out, only the
    line that says so (its previous packages and cards are then kept, as those of a file not read)."""
    candidates = (
        Candidate(o.path, o.shown, o.title, len(o.records), o.digest)
        for o in outcomes
        if o.title is not None and o.records
    )
    choice = choose(candidates)
    kept = [o for o in outcomes if o.shown not in choice.left_out]
    books: list[manifest.BookRecord] = []
    clean: set[str] = set()
    for outcome in kept:
        if outcome.title is None or not (outcome.records or outcome.clean):
            continue
        source = manifest.source_key(outcome.path, out_dir) if out_dir is not None else outcome.shown
        names = tuple(p.filename for p in outcome.packages) or ((ALL_PACKAGE,) if outcome.records else ())
        books.append(manifest.BookRecord(source, outcome.title, names, outcome.records))
        if outcome.clean:
            clean.add(source)
    return _Taken(
        diagnostics=choice.diagnostics + tuple(d for o in kept for d in o.diagnostics),
        packages=tuple(p for o in kept for p in o.packages),
        decks=tuple(d for o in kept for d in o.decks),
        books=tuple(books),
        clean=frozenset(clean),
        built=sum(1 for o in kept if o.title is not None and o.records),
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


@dataclass(frozen=True, slots=True)
class _Read:
    """What a build read: the books it built, which of them it read without an error, and the
    folders it searched (a notes file of the previous build that is gone from them was deleted)."""

    books: tuple[manifest.BookRecord, ...]
    clean: frozenset[str]
    folders: tuple[Path, ...]

    def covers(self, out_dir: Path, old: manifest.BookRecord) -> bool:
        """Whether this build answers for a book of the previous one: it read the file without an
        error, or the file was deleted from a folder it searched."""
        if old.source in self.clean:
            return True
        if any(book.source == old.source for book in self.books):
            return False  # read, but with errors: it may have lost cards that are still in the notes
        path = Path(os.path.normpath(out_dir.resolve() / old.source))
        return not path.exists() and any(path.is_relative_to(folder) for folder in self.folders)


def _finish(
    out_dir: Path, previous: manifest.Manifest | None, stamp: int, packages: Sequence[StagedPackage], read: _Read
) -> tuple[tuple[Path, ...], tuple[manifest.CardRecord, ...]]:
    """Remove the packages of the books this build answers for that it no longer makes, find their
    cards that left the notes, and record this build in the manifest: the books it did not read
    (or read with errors) keep what they had, except what another book makes now."""
    made = {p.filename for p in packages}
    now = {card.guid for book in read.books for card in book.cards}
    built = {book.source: book for book in read.books}
    books = dict(built)
    leaving: list[manifest.BookRecord] = []
    for old in previous.books if previous else ():
        if read.covers(out_dir, old):
            leaving.append(old)
            continue
        kept = tuple(name for name in old.packages if name not in made)
        cards = tuple(card for card in old.cards if card.guid not in now)
        new = built.get(old.source)
        if new is not None:  # read with errors: what it had is kept beside what it makes now
            books[old.source] = manifest.BookRecord(new.source, new.title, new.packages + kept, new.cards + cards)
        elif kept or cards:
            books[old.source] = manifest.BookRecord(old.source, old.title, kept, cards)
    claimed = made | {name for book in books.values() for name in book.packages}
    removed: list[Path] = []
    for name in sorted({name for book in leaving for name in book.packages} - claimed):
        stale = out_dir / name
        if Path(name).name == name and stale.suffix == ".apkg" and stale.is_file():
            stale.unlink()
            removed.append(stale)
    gone = tuple({card.guid: card for book in leaving for card in book.cards if card.guid not in now}.values())
    digests = {p.name: p.digest for p in previous.packages} if previous else {}
    digests.update({p.filename: p.digest for p in packages})
    entries = tuple(manifest.PackageRecord(name, digests[name]) for name in sorted(claimed) if name in digests)
    reported = {card.guid: card for card in previous.gone if card.guid not in now} if previous else {}
    reported.update({card.guid: card for card in gone})
    record = manifest.Manifest(stamp, entries, tuple(books.values()), tuple(reported.values()))
    # A build that changed nothing leaves the folder as it was, the manifest's time included: no
    # package carries this build's time, so the next build's time need only be later than that one.
    wrote = any(p.staged for p in packages) or bool(removed)
    if wrote or previous is None or replace(record, timestamp=previous.timestamp) != previous:
        manifest.write(out_dir, record)
    return tuple(removed), gone


def _commit(staged: Path, target: Path) -> Path:
    os.replace(staged, target)
    return target


def _discard(staged: Sequence[Path | None]) -> None:
    for path in staged:
        if path is not None:
            path.unlink(missing_ok=True)


def _ordered(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.loc.path, d.loc.line, d.code))
