"""The command line: parses options, calls the pipeline, prints what it found. No logic of its own.

Exit codes: 0 success; 1 bad content (errors in notes, or warnings with ``--strict``);
2 bad usage (a missing path, an unwritable output folder, a bad option).
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from ankigen import __version__
from ankigen.errors import AnkigenError
from ankigen.model import Diagnostic, Severity

app = typer.Typer(
    name="ankigen",
    help="Turn Markdown study notes (<details> cards) into Anki decks.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.NOTICE: "dim"}


def _consoles() -> tuple[Console, Console]:
    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(no_color=no_color, highlight=False, soft_wrap=True), Console(
        stderr=True, no_color=no_color, highlight=False, soft_wrap=True
    )


def _print_diagnostics(err: Console, diagnostics: tuple[Diagnostic, ...], *, quiet: bool) -> None:
    for diagnostic in diagnostics:
        if quiet and diagnostic.severity is Severity.NOTICE:
            continue
        err.print(str(diagnostic), style=_STYLES[diagnostic.severity], markup=False)


def _fail(err: Console, error: AnkigenError) -> NoReturn:
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


Paths = Annotated[
    list[Path] | None,
    typer.Argument(help="Notes files, or folders searched for *.md. Default: seeds/.", show_default=False),
]
Root = Annotated[
    Path | None,
    typer.Option(help="Folder images may come from. Default: the notes' git work tree, else the current folder."),
]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Parallel jobs. Default: the number of CPUs.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Render every card again; read and write no cache.")]
CacheDir = Annotated[
    Path | None,
    typer.Option(help="Render cache folder (safe to delete). Default: $ANKIGEN_CACHE_DIR or ~/.cache/ankigen."),
]


def _cache(no_cache: bool, cache_dir: Path | None) -> Path | None:
    if no_cache:
        return None
    from ankigen.cache import default_dir

    return cache_dir or default_dir()


@app.command()
def build(
    paths: Paths = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the .apkg files.")] = Path("dist"),
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) on warnings too; write nothing then.")
    ] = False,
    root: Root = None,
    jobs: Jobs = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only warnings, errors and the summary.")] = False,
) -> None:
    """Build one Anki package (.apkg) per chapter of each notes file."""
    from ankigen import build as pipeline

    stdout, err = _consoles()
    try:
        result = pipeline.build(
            paths or [Path("seeds")],
            out,
            root=root,
            jobs=jobs,
            cache_dir=_cache(no_cache, cache_dir),
            strict=strict,
        )
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or out}: {exc.strerror or exc}"))
    _print_diagnostics(err, result.diagnostics, quiet=quiet)
    errors, warnings = result.count(Severity.ERROR), result.count(Severity.WARNING)
    if not result.committed:
        err.print(f"--strict: {_plural(warnings, 'warning')}; nothing written", style="bold red")
        raise typer.Exit(1)
    for stale in result.removed:
        err.print(f"removed {stale}: the notes no longer have this chapter", style="dim", markup=False)
    if result.gone:
        err.print(
            f"{_plural(len(result.gone), 'card')} left the notes since the last build; Anki keeps "
            "imported cards, so delete these by hand if you no longer want them:",
            style="yellow",
            markup=False,
        )
        for card in result.gone:
            err.print(f"  {card.deck}: {card.question}  (was {card.source})", style="yellow", markup=False)
    unchanged = f", {len(result.unchanged)} unchanged" if result.unchanged else ""
    summary = (
        f"Wrote {_plural(len(result.written), 'deck')}{unchanged} ({_plural(result.cards, 'card')}) "
        f"from {_plural(result.books, 'book')} to {out}/"
    )
    problems = [_plural(n, k) for n, k in ((errors, "error"), (warnings, "warning")) if n]
    stdout.print(summary + (f"; {', '.join(problems)}" if problems else ""), markup=False)
    if errors:
        raise typer.Exit(1)


@app.command()
def preview(
    paths: Paths = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the HTML site.")] = Path("preview"),
    root: Root = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only warnings, errors and the summary.")] = False,
) -> None:
    """Write a static HTML preview of the cards (open OUT/index.html; no server needed)."""
    from ankigen import build as pipeline
    from ankigen.preview import write_site

    stdout, err = _consoles()
    try:
        planned = pipeline.plan(paths or [Path("seeds")], root=root, cache_dir=_cache(no_cache, cache_dir))
        site = write_site(planned.decks, out)
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or out}: {exc.strerror or exc}"))
    _print_diagnostics(err, planned.diagnostics, quiet=quiet)
    stdout.print(
        f"Wrote a preview of {_plural(len(site.pages), 'deck')} ({_plural(planned.cards, 'card')}): {site.index}",
        markup=False,
    )
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
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too.")] = False,
    root: Root = None,
    jobs: Jobs = None,
    no_cache: NoCache = False,
    cache_dir: CacheDir = None,
    explain: Annotated[
        str | None, typer.Option("--explain", metavar="CODE", help="Explain a code (AG101…) and exit.")
    ] = None,
) -> None:
    """Check notes without writing anything: every problem as file:line:col: severity code message."""
    if explain:
        _explain(explain)
    from ankigen import build as pipeline

    stdout, err = _consoles()
    try:
        planned = pipeline.build(
            paths or [Path("seeds")], None, root=root, jobs=jobs, cache_dir=_cache(no_cache, cache_dir)
        )
    except AnkigenError as exc:
        _fail(err, exc)
    errors, warnings = planned.count(Severity.ERROR), planned.count(Severity.WARNING)
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
    else:
        for diagnostic in planned.diagnostics:
            stdout.print(str(diagnostic), style=_STYLES[diagnostic.severity], markup=False)
        problems = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        stdout.print(f"Checked {_plural(planned.files, 'file')}, {_plural(planned.cards, 'card')}: {problems}")
    if errors or (strict and warnings):
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
