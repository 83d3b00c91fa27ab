"""The command line: parses options, calls the pipeline, prints what it found. No logic of its own.

Exit codes: 0 success; 1 bad content (errors in notes, or warnings with ``--strict``);
2 bad usage (a missing path, an unwritable output folder, a bad option or configuration).
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer

from ankigen import __version__
from ankigen.errors import AnkigenError, InterruptError, UsageError
from ankigen.interrupts import HeldInterrupt
from ankigen.manifest import MANIFEST_NAME
from ankigen.model import DeckOptions, Diagnostic, Severity, Split, Theme

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from ankigen.build import BuildResult
    from ankigen.sync import Changes, Entry

app = typer.Typer(
    name="ankigen",
    help="Turn Markdown study notes (<details> cards) into Anki decks.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTICE: "dim"}


class _Output:
    """stdout or stderr as rich prints to it: colour off with NO_COLOR, and plain text whenever not a
    terminal. Rich is imported only when it is needed (a terminal, a table, text it would change):
    loading it is a fifth of the time a quiet build takes to start, and a build whose output goes
    to a file or a pipe prints only text rich gives back as it is (a test compares the two)."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console, made on first use."""
        if self._console is None:
            from rich.console import Console

            if os.environ.get("NO_COLOR"):  # no-color.org: and then no other styling either
                self._console = Console(stderr=self.stderr, color_system=None, highlight=False, soft_wrap=True)
            else:
                self._console = Console(stderr=self.stderr, highlight=False, soft_wrap=True)
        return self._console

    def _stream(self) -> TextIO | None:
        """Where rich would write, if it would see no terminal there; else None."""
        if _FORCED_TERMINAL & os.environ.keys():
            return None
        stream = sys.stderr if self.stderr else sys.stdout
        stream = getattr(stream, "rich_proxied_file", stream)  # rich's own stand-in during a progress bar
        try:
            if stream is None or stream.isatty() or hasattr(builtins, "get_ipython"):  # Jupyter: rich's HTML
                return None
        except ValueError:  # closed
            return None
        return stream

    @property
    def is_terminal(self) -> bool:
        return self._stream() is None and self.console.is_terminal

    def print(self, text: object, *, style: str | None = None, markup: bool | None = None) -> None:
        """Rich's ``Console.print``, written directly when rich would write the text as it is."""
        stream = self._stream()
        if stream is not None and isinstance(text, str) and plain(text, markup=markup is not False):
            try:
                stream.write(text + "\n")
            except UnicodeEncodeError:  # nothing written: rich says why, and how to fix it
                pass
            else:
                stream.flush()
                return
        self.console.print(text, style=style, markup=markup)


# Rich's settings that make it see a terminal where there is none.
_FORCED_TERMINAL = frozenset({"FORCE_COLOR", "TTY_COMPATIBLE"})
# What rich changes in text it prints without a terminal: control characters (stripped or kept),
# tabs (expanded), ``:name:`` (an emoji), whitespace ending a long line (cut), ``[…]`` markup.
_NOT_PLAIN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]|:\S*:|\s(?=\n|\Z)")


def plain(text: str, *, markup: bool) -> bool:
    """Whether rich prints ``text`` to a file that is no terminal exactly as it is."""
    return not _NOT_PLAIN.search(text) and not (markup and "[" in text)


def _consoles() -> tuple[_Output, _Output]:
    """stdout and stderr."""
    return _Output(stderr=False), _Output(stderr=True)


def _print_diagnostics(console: _Output, diagnostics: tuple[Diagnostic, ...], *, verbose: bool) -> None:
    """Errors and warnings; notices (a file with no cards, empty chapters) only with ``-v``: in
    a large library they are many, and nothing is wrong."""
    for diagnostic in diagnostics:
        if verbose or diagnostic.severity is not Severity.NOTICE:
            console.print(str(diagnostic), style=_STYLES[diagnostic.severity], markup=False)


def _notices(count: int, *, verbose: bool) -> list[str]:
    """The summary's count of notices, saying how to see them when they were not shown."""
    if not count:
        return []
    return [_plural(count, "notice") + ("" if verbose else " (-v to show)")]


def _fail(err: _Output, error: AnkigenError) -> NoReturn:
    err.print(str(error), style="bold red", markup=False)
    raise typer.Exit(error.exit_code)


def _version(value: bool) -> None:
    if value:
        print(f"ankigen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Turn Markdown study notes (<details> cards) into Anki decks."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# Options shared by the commands that read notes.
Paths = Annotated[
    list[Path] | None,
    typer.Argument(help="Notes files, or folders searched for *.md. Default: the configuration's, else seeds/.",
                   show_default=False),
]  # fmt: skip
Exclude = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude", metavar="GLOB",
        help="Leave out files found in a folder that match (repeatable): README.md, subjects/*/isbn-*.md, old/**.",
    ),
]  # fmt: skip
Root = Annotated[
    Path | None,
    typer.Option(help="Folder images may come from. Default: the notes' git work tree, else the folder given."),
]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Parallel jobs. Default: the number of CPUs.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Render every card again; read and write no cache.")]
CacheDir = Annotated[
    Path | None,
    typer.Option(help="Render cache folder (safe to delete). Default: $ANKIGEN_CACHE_DIR or ~/.cache/ankigen."),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Configuration file. Default: ankigen.toml, else [tool.ankigen] in pyproject.toml."),
]
SplitOption = Annotated[
    Split | None, typer.Option("--split", help="One package per chapter (default), per book, or one for all.")
]
DeckName = Annotated[
    str | None, typer.Option("--deck-name", help="Deck name template, with {book} and {chapter}.", show_default=False)
]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="An extra tag on every note (repeatable).")]
LightTheme = Annotated[str | None, typer.Option(help="Pygments style of code in light mode (default: default).")]
DarkTheme = Annotated[str | None, typer.Option(help="Pygments style of code in night mode (default: github-dark).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors, warnings and the summary.")]
Verbose = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Also print notices (files with no cards, empty chapters), packages written."),
]


@dataclass(frozen=True, slots=True)
class _Settings:
    """Command-line flags over the configuration file over the defaults."""

    sources: list[Path]
    exclude: tuple[str, ...]
    out: Path
    root: Path | None
    jobs: int | None
    strict: bool
    cache_dir: Path | None
    options: DeckOptions
    collection: Path | None = None
    profile: str | None = None


def _settings(
    paths: list[Path] | None,
    *,
    command: str,
    config_file: Path | None = None,
    exclude: list[str] | None = None,
    out: Path | None = None,
    root: Path | None = None,
    jobs: int | None = None,
    strict: bool | None = None,
    no_cache: bool = False,
    cache_dir: Path | None = None,
    split: Split | None = None,
    deck_name: str | None = None,
    tags: list[str] | None = None,
    light_theme: str | None = None,
    dark_theme: str | None = None,
) -> _Settings:
    from ankigen import config

    found = config.load(config_file)
    if not paths and not found.sources and not Path("seeds").exists():
        raise UsageError(
            f"no notes to read: pass a notes folder or file, as in `ankigen {command} NOTES_DIR` "
            f"(or set `sources` in {config.FILE_NAME})"
        )
    if deck_name is not None:
        config.check_deck_name(deck_name, "--deck-name")
    for flag, style in (("--light-theme", light_theme), ("--dark-theme", dark_theme)):
        if style is not None:
            config.check_theme(style, flag)
    for pattern in exclude or []:
        if not pattern.strip("/"):
            raise UsageError(f"--exclude: {pattern!r} is not a pattern")
    for tag in tags or []:
        if not tag or any(c.isspace() for c in tag):
            raise UsageError(f"--tag: {tag!r} is not a tag (no spaces)")
    cache = None
    if not no_cache:
        from ankigen.cache import default_dir

        cache = cache_dir or default_dir()
    defaults = DeckOptions()
    theme = Theme(
        light_theme or found.light_theme or defaults.theme.light,
        dark_theme or found.dark_theme or defaults.theme.dark,
    )
    options = DeckOptions(
        deck_name=deck_name or found.deck_name or defaults.deck_name,
        tags=(*found.tags, *(tags or [])),
        theme=theme,
        split=split or found.split or defaults.split,
    )
    return _Settings(
        sources=list(paths or found.sources or [Path("seeds")]),
        exclude=(*found.exclude, *(exclude or [])),
        out=out or found.out or Path("dist"),
        root=root or found.root,
        jobs=jobs or found.jobs,
        strict=strict if strict is not None else bool(found.strict),
        cache_dir=cache,
        options=options,
        collection=found.collection,
        profile=found.profile,
    )


@contextmanager
def _progress(err: _Output, enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A progress bar on a terminal for builds of more than a few files; nothing otherwise. The
    bar starts when the first file is done, with the number of files the build reports."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    started: list[tuple[Progress, TaskID]] = []

    def advance(_shown: str, total: int) -> None:
        if total < 4:
            return
        if not started:
            columns = (TextColumn("building"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            bar = Progress(*columns, console=err.console, transient=True)
            bar.start()
            started.append((bar, bar.add_task("build", total=total)))
        bar, task = started[0]
        bar.advance(task)

    try:
        yield advance
    finally:
        if started:
            started[0][0].stop()


def _run_build(settings: _Settings, err: _Output, *, quiet: bool) -> BuildResult:
    from ankigen import build as pipeline

    def waiting() -> None:
        err.print(f"waiting for another ankigen build into {settings.out}/ ...", style="dim", markup=False)

    with _progress(err, not quiet) as progress:
        return pipeline.build(
            settings.sources,
            settings.out,
            root=settings.root,
            jobs=settings.jobs,
            cache_dir=settings.cache_dir,
            strict=settings.strict,
            options=settings.options,
            progress=progress,
            exclude=settings.exclude,
            waiting=waiting,
        )


# Over this many packages, the summary says how to import them all at once.
MANY_PACKAGES = 20
GONE_SHOWN = 5  # cards that left the notes listed without -v (all are in the manifest)


def _report_build(result: BuildResult, out: Path, stdout: _Output, err: _Output, *, quiet: bool, verbose: bool) -> int:
    """Print what a build found and did; return its exit code."""
    _print_diagnostics(err, result.diagnostics, verbose=verbose)
    errors, warnings = result.count(Severity.ERROR), result.count(Severity.WARNING)
    if not result.committed:
        err.print(f"--strict: {_plural(warnings, 'warning')}; nothing written", style="bold red")
        return 1
    if verbose:
        for path in result.written:
            err.print(f"wrote {path}", style="dim", markup=False)
    for stale in () if quiet else result.removed:
        err.print(f"removed {stale}: the notes no longer make this package", style="dim", markup=False)
    if result.gone:
        err.print(
            f"{_plural(len(result.gone), 'card')} left the notes since the last build; Anki keeps "
            "imported cards, so delete these by hand if you no longer want them:",
            style="yellow",
            markup=False,
        )
        shown = result.gone if verbose else result.gone[:GONE_SHOWN]
        for card in shown:
            err.print(f"  {card.deck}: {card.question}  (was {card.source})", style="yellow", markup=False)
        if len(shown) < len(result.gone):
            more = len(result.gone) - len(shown)
            err.print(
                f'  ... and {more} more: all are listed with -v, and under "gone" in {out / MANIFEST_NAME}',
                style="yellow",
                markup=False,
            )
    unchanged = f", {len(result.unchanged)} unchanged" if result.unchanged else ""
    summary = (
        f"Wrote {_plural(len(result.written), 'package')}{unchanged} ({_plural(result.decks, 'deck')}, "
        f"{_plural(result.cards, 'card')}) from {_plural(result.books, 'book')} to {out}/"
    )
    problems = [_plural(n, k) for n, k in ((errors, "error"), (warnings, "warning")) if n]
    problems += _notices(result.count(Severity.NOTICE), verbose=verbose)
    stdout.print(summary + (f"; {', '.join(problems)}" if problems else ""), markup=False)
    if len(result.written) > MANY_PACKAGES:
        stdout.print(
            "Anki imports one package at a time: `ankigen sync` puts every deck into your collection at once, "
            f"or `ankigen build --split all` writes them all into one package, {out}/decks.apkg.",
            markup=False,
        )
    return 1 if errors else 0


@app.command()
def build(
    paths: Paths = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: dist).")] = None,
    strict: Annotated[
        bool | None, typer.Option("--strict/--no-strict", help="Fail (exit 1) on warnings too; write nothing then.")
    ] = None,
    split: SplitOption = None,
    deck_name: DeckName = None,
    tag: Tags = None,
    light_theme: LightTheme = None,
    dark_theme: DarkTheme = None,
    root: Root = None,
    jobs: Jobs = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    config_file: ConfigFile = None,
    exclude: Exclude = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Build again whenever a notes file changes, until Ctrl-C.")
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Build Anki packages (.apkg): one per chapter of each notes file, by default."""
    stdout, err = _consoles()
    try:
        settings = _settings(
            paths, command="build", config_file=config_file, exclude=exclude, out=out, root=root, jobs=jobs,
            strict=strict,
            no_cache=no_cache, cache_dir=cache_dir, split=split, deck_name=deck_name, tags=tag, light_theme=light_theme,
            dark_theme=dark_theme,
        )  # fmt: skip
        code = _report_build(
            _run_build(settings, err, quiet=quiet), settings.out, stdout, err, quiet=quiet, verbose=verbose
        )
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or 'output'}: {exc.strerror or exc}"))
    if watch:
        _watch(settings, stdout, err, quiet=quiet, verbose=verbose)
    raise typer.Exit(code)


def _watch(settings: _Settings, stdout: _Output, err: _Output, *, quiet: bool, verbose: bool) -> None:
    """Rebuild on every change to the notes (or their images) until interrupted. Each rebuild goes
    through the render cache and keeps unchanged packages, so only changed books cost work."""
    from watchfiles import watch as changes

    watched = [s for s in settings.sources if s.exists()]
    err.print(f"watching {', '.join(map(str, watched))} (Ctrl-C to stop)", style="dim", markup=False)
    out_dir = settings.out.resolve()
    try:
        for batch in changes(*watched, raise_interrupt=False, rust_timeout=500, yield_on_timeout=False):
            touched = [Path(p) for _, p in batch if not Path(p).resolve().is_relative_to(out_dir)]
            if not touched:
                continue
            try:
                result = _run_build(settings, err, quiet=True)
                _report_build(result, settings.out, stdout, err, quiet=quiet, verbose=verbose)
            except AnkigenError as exc:
                err.print(str(exc), style="bold red", markup=False)
    except KeyboardInterrupt:
        pass
    err.print("stopped watching", style="dim")


@app.command()
def preview(
    paths: Paths = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the HTML site.")] = Path("preview"),
    deck_name: DeckName = None,
    light_theme: LightTheme = None,
    dark_theme: DarkTheme = None,
    root: Root = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    config_file: ConfigFile = None,
    exclude: Exclude = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write a static HTML preview of the cards (open OUT/index.html; no server needed)."""
    from ankigen import build as pipeline
    from ankigen.preview import write_site

    stdout, err = _consoles()
    try:
        settings = _settings(
            paths, command="preview", config_file=config_file, exclude=exclude, root=root, no_cache=no_cache,
            cache_dir=cache_dir, deck_name=deck_name, light_theme=light_theme, dark_theme=dark_theme,
        )  # fmt: skip
        planned = pipeline.plan(
            settings.sources, root=settings.root, cache_dir=settings.cache_dir, options=settings.options,
            exclude=settings.exclude,
        )  # fmt: skip
        site = write_site(planned.decks, out, settings.options.theme)
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or out}: {exc.strerror or exc}"))
    _print_diagnostics(err, planned.diagnostics, verbose=verbose)
    stdout.print(
        f"Wrote a preview of {_plural(len(site.pages), 'deck')} ({_plural(planned.cards, 'card')}): {site.index}",
        markup=False,
    )
    if planned.count(Severity.ERROR):
        raise typer.Exit(1)


PHONE = (
    "On a phone: sync Anki with AnkiWeb (the Sync button), then sync AnkiDroid or AnkiMobile; "
    "or build one package with `ankigen build --split all` and open it there."
)


def _entries(err: _Output, title: str, entries: tuple[Entry, ...], style: str) -> None:
    if not entries:
        return
    err.print(title, style=style, markup=False)
    for entry in entries:
        err.print(f"  {entry.deck}: {entry.question}  ({entry.source})", style=style, markup=False)


def _report_sync(changes: Changes, stdout: _Output, err: _Output, *, verbose: bool) -> None:
    """What a sync did (or, with --dry-run, would do): lists, then one summary line."""
    would = "" if changes.applied else "would be "
    if verbose or not changes.applied:
        _entries(err, f"{would}added:", changes.added, "dim")
        _entries(err, f"{would}updated:", changes.updated, "dim")
        _entries(err, f"{would}moved to the deck the notes name now:", changes.moved, "dim")
    _entries(
        err,
        f"{_plural(len(changes.conflicts), 'note')} edited in Anki since ankigen last wrote them, kept as they are "
        "(--force overwrites them with the notes):",
        changes.conflicts,
        "yellow",
    )
    if changes.pruned:
        _entries(err, f"{would}removed, gone from the notes:", changes.gone, "yellow")
    else:
        _entries(
            err,
            f"{_plural(len(changes.gone), 'note')} gone from the notes, still in the collection "
            "(--prune removes them, with their reviews):",
            changes.gone,
            "yellow",
        )
    if changes.notetype_changed:
        err.print(f"the ankigen notetype's style and templates {'were' if changes.applied else 'would be'} updated",
                  style="dim", markup=False)  # fmt: skip
    if changes.backup:
        err.print(f"backup: {changes.backup}", style="dim", markup=False)
    counts = [
        f"{len(changes.added)} added",
        f"{len(changes.updated)} updated",
        f"{len(changes.moved)} moved",
        f"{changes.unchanged} unchanged",
        _plural(len(changes.conflicts), "conflict"),
        f"{len(changes.gone)} {'removed' if changes.pruned else 'to remove'}",
    ]
    head = f"Synced {changes.collection}" if changes.applied else f"Dry run, nothing changed in {changes.collection}"
    stdout.print(f"{head}: {', '.join(counts)}", markup=False)
    if changes.applied:
        stdout.print(PHONE, markup=False)


@app.command()
def sync(
    paths: Paths = None,
    collection: Annotated[
        Path | None, typer.Option("--collection", help="The collection.anki2 to sync into.", show_default=False)
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="An Anki profile (in Anki's data folder) to sync into.")
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Remove notes gone from the notes (and their reviews).")] = (
        False
    ),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change; change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite notes edited in Anki with the notes.")] = False,
    no_backup: Annotated[bool, typer.Option("--no-backup", help="Skip Anki's backup before changing anything.")] = (
        False
    ),
    strict: Annotated[
        bool | None, typer.Option("--strict/--no-strict", help="Fail (exit 1) on warnings too; change nothing then.")
    ] = None,
    deck_name: DeckName = None,
    tag: Tags = None,
    light_theme: LightTheme = None,
    dark_theme: DarkTheme = None,
    root: Root = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    config_file: ConfigFile = None,
    exclude: Exclude = None,
    quiet: Quiet = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also list every note added, updated, moved.")] = (
        False
    ),
) -> None:
    """Build the notes and apply them to an Anki collection: add, update, move; --prune removes."""
    from ankigen import build as pipeline
    from ankigen import sync as syncing

    stdout, err = _consoles()
    try:
        syncing.require_anki()
        settings = _settings(
            paths, command="sync", config_file=config_file, exclude=exclude, root=root, strict=strict,
            no_cache=no_cache, cache_dir=cache_dir, deck_name=deck_name, tags=tag, light_theme=light_theme,
            dark_theme=dark_theme,
        )  # fmt: skip
        if collection is not None or profile is not None:
            target = syncing.find_collection(collection, profile)
        else:
            target = syncing.find_collection(settings.collection, settings.profile)
        planned = pipeline.plan(
            settings.sources, root=settings.root, cache_dir=settings.cache_dir, options=settings.options,
            exclude=settings.exclude,
        )  # fmt: skip
        _print_diagnostics(err, planned.diagnostics, verbose=verbose)
        warnings = planned.count(Severity.WARNING)
        if settings.strict and warnings:
            err.print(f"--strict: {_plural(warnings, 'warning')}; nothing synced", style="bold red")
            raise typer.Exit(1)
        changes = syncing.sync(
            planned, target, prune=prune, dry_run=dry_run, force=force, make_backup=not no_backup,
            theme=settings.options.theme,
        )  # fmt: skip
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or 'collection'}: {exc.strerror or exc}"))
    except KeyboardInterrupt as exc:
        done = isinstance(exc, HeldInterrupt)  # the changes were all made first
        raise InterruptError("the sync was applied in full first" if done else "nothing changed") from None
    _report_sync(changes, stdout, err, verbose=verbose)
    if planned.count(Severity.ERROR):
        raise typer.Exit(1)


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _github_escape(text: str, *, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def _github_line(diagnostic: Diagnostic) -> str:
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}[diagnostic.severity]
    loc = diagnostic.loc
    props = (
        f"file={_github_escape(loc.path, property_value=True)},line={loc.line},col={loc.col},title={diagnostic.code}"
    )
    return f"::{level} {props}::{_github_escape(diagnostic.message)}"


def _explain(code: str) -> None:
    from ankigen.codes import CODES

    found = CODES.get(code.upper())
    if found is None:
        print(f"error: unknown code {code!r}; the codes are {', '.join(CODES)}", file=sys.stderr)
        raise typer.Exit(2)
    print(f"{found.code} ({found.severity.value}): {found.summary}\n\n{found.explanation}")
    raise typer.Exit()


@app.command()
def check(
    paths: Paths = None,
    output_format: Annotated[Format, typer.Option("--format", help="text, json, or github (Actions annotations).")] = (
        Format.text
    ),
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help="Exit 1 on warnings too.")] = None,
    root: Root = None,
    jobs: Jobs = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    config_file: ConfigFile = None,
    exclude: Exclude = None,
    explain: Annotated[
        str | None, typer.Option("--explain", metavar="CODE", help="Explain a code (AG101…) and exit.")
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Check notes without writing anything: every problem as file:line:col: severity code message."""
    if explain:
        _explain(explain)
    from ankigen import build as pipeline

    stdout, err = _consoles()
    try:
        settings = _settings(
            paths, command="check", config_file=config_file, exclude=exclude, root=root, jobs=jobs, strict=strict,
            no_cache=no_cache,
            cache_dir=cache_dir,
        )  # fmt: skip
        planned = pipeline.build(
            settings.sources, None, root=settings.root, jobs=settings.jobs, cache_dir=settings.cache_dir,
            options=settings.options, exclude=settings.exclude,
        )  # fmt: skip
    except AnkigenError as exc:
        _fail(err, exc)
    errors, warnings = planned.count(Severity.ERROR), planned.count(Severity.WARNING)
    notices = _notices(planned.count(Severity.NOTICE), verbose=verbose)
    if output_format is Format.json:
        found = [
            {
                "path": d.loc.path,
                "line": d.loc.line,
                "col": d.loc.col,
                "severity": d.severity.value,
                "code": d.code,
                "message": d.message,
            }
            for d in planned.diagnostics
        ]
        summary = {"files": planned.files, "books": planned.books, "cards": planned.cards, "errors": errors}
        print(json.dumps({"diagnostics": found, "summary": {**summary, "warnings": warnings}}, indent=2))
    elif output_format is Format.github:
        for diagnostic in planned.diagnostics:
            print(_github_line(diagnostic))
    else:  # -q has nothing more to leave out here than build's default does
        _print_diagnostics(stdout, planned.diagnostics, verbose=verbose)
        problems = ", ".join([_plural(errors, "error"), _plural(warnings, "warning"), *notices])
        stdout.print(f"Checked {_plural(planned.files, 'file')}, {_plural(planned.cards, 'card')}: {problems}")
    if errors or (settings.strict and warnings):
        raise typer.Exit(1)


@app.command(name="list")
def list_books(
    paths: Paths = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    config_file: ConfigFile = None,
    exclude: Exclude = None,
) -> None:
    """List the books, chapters and card counts a build takes (reads the notes only; renders nothing)."""
    from ankigen import build as pipeline
    from ankigen.decks import section_label

    stdout, err = _consoles()
    try:
        settings = _settings(paths, command="list", config_file=config_file, exclude=exclude, no_cache=True)
        taken, diagnostics = pipeline.catalog(settings.sources, settings.exclude)
    except AnkigenError as exc:
        _fail(err, exc)
    _print_diagnostics(err, diagnostics, verbose=False)
    books = []
    for shown, book in taken:
        chapters = [
            {"name": section_label(s, book), "status": s.status, "cards": len(s.cards), "line": s.loc.line}
            for s in book.sections
        ]
        books.append({"title": book.title, "path": shown, "cards": book.card_count, "chapters": chapters})
    if as_json:
        print(json.dumps({"books": books}, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=None, show_lines=False)
    for column, justify in (("book", "left"), ("chapter", "left"), ("status", "left"), ("cards", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for entry in books:
        table.add_row(str(entry["title"]), "", "", str(entry["cards"]), style="bold")
        for chapter in entry["chapters"]:  # type: ignore[attr-defined]
            table.add_row("", chapter["name"], chapter["status"] or "", str(chapter["cards"]))
    stdout.print(table)
    total = sum(int(str(b["cards"])) for b in books)
    stdout.print(f"{_plural(len(books), 'book')}, {_plural(total, 'card')}", markup=False)


@app.command()
def inspect(
    package: Annotated[Path, typer.Argument(help="An .apkg file.", show_default=False)],
    note: Annotated[int | None, typer.Option("--note", "-n", min=1, help="Show every field of the N-th note.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show what a package holds: decks, notetype, notes, media (standard library only)."""
    from dataclasses import asdict

    from ankigen.apkginfo import read_package

    stdout, err = _consoles()
    try:
        info = read_package(package)
        if note is not None and note > len(info.notes):
            raise UsageError(f"{package}: --note {note}, but the package has {_plural(len(info.notes), 'note')}")
    except AnkigenError as exc:
        _fail(err, exc)
    if as_json:
        data = asdict(info)
        data["path"] = str(info.path)
        if note is not None:
            data["notes"] = [data["notes"][note - 1]]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    stdout.print(f"{package}: {info.size:,} bytes, {_plural(len(info.notes), 'note')}", markup=False)
    for deck in info.decks:
        stdout.print(f"  deck {deck.name!r} (id {deck.id}): {_plural(deck.cards, 'card')}", markup=False)
    for model in info.notetypes:
        stdout.print(
            f"  notetype {model.name!r} (id {model.id}): fields {', '.join(model.fields)}; "
            f"templates {', '.join(model.templates)}; CSS {model.css_bytes:,} bytes",
            markup=False,
        )
    stdout.print(f"  media: {', '.join(info.media) if info.media else 'none'}", markup=False)
    if note is not None:
        chosen = info.notes[note - 1]
        stdout.print(f"note {note} (id {chosen.id}, guid {chosen.guid}, tags {' '.join(chosen.tags)}):", markup=False)
        for name, value in chosen.fields:
            stdout.print(f"  {name}: {value}", markup=False)
