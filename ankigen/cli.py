"""The command line: parses options, calls the pipeline, prints what it found. No logic of its own.

Exit codes: 0 success; 1 bad content (errors in notes, or warnings with ``--strict``);
2 bad usage (a missing path, an unwritable output folder, a bad option).
"""

from __future__ import annotations

import os
import sys
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


@app.command()
def build(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Notes files, or folders searched for *.md. Default: seeds/.", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the .apkg files.")] = Path("dist"),
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) on warnings too; write nothing then.")
    ] = False,
    root: Annotated[
        Path | None,
        typer.Option(help="Folder images may come from. Default: the notes' git work tree, else the current folder."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only warnings, errors and the summary.")] = False,
) -> None:
    """Build one Anki package (.apkg) per chapter of each notes file."""
    from ankigen import build as pipeline

    stdout, err = _consoles()
    sources = paths or [Path("seeds")]
    try:
        planned = pipeline.plan(sources, root=root)
        _print_diagnostics(err, planned.diagnostics, quiet=quiet)
        errors = planned.count(Severity.ERROR)
        warnings = planned.count(Severity.WARNING)
        if strict and warnings:
            err.print(f"--strict: {_plural(warnings, 'warning')}; nothing written", style="bold red")
            raise typer.Exit(1)
        written = pipeline.write(planned, out)
    except AnkigenError as exc:
        _fail(err, exc)
    except OSError as exc:
        _fail(err, AnkigenError(f"{exc.filename or out}: {exc.strerror or exc}"))
    for stale in written.removed:
        err.print(f"removed {stale}: the notes no longer have this chapter", style="dim", markup=False)
    if written.gone:
        err.print(
            f"{_plural(len(written.gone), 'card')} left the notes since the last build; Anki keeps "
            "imported cards, so delete these by hand if you no longer want them:",
            style="yellow",
            markup=False,
        )
        for card in written.gone:
            err.print(f"  {card.deck}: {card.question}  (was {card.source})", style="yellow", markup=False)
    summary = (
        f"Wrote {_plural(len(written.packages), 'deck')} ({_plural(planned.cards, 'card')}) "
        f"from {_plural(planned.books, 'book')} to {out}/"
    )
    problems = [_plural(n, k) for n, k in ((errors, "error"), (warnings, "warning")) if n]
    stdout.print(summary + (f"; {', '.join(problems)}" if problems else ""), markup=False)
    if errors:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
