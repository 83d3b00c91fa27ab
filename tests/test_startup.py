"""What a command loads before it does its work: only what it needs. ``--help`` and ``--version``
load no library of the pipeline; a build whose output goes to a file or a pipe prints without
loading rich, and prints exactly what rich would."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.errors import MarkupError

from ankigen import __version__
from ankigen.cli import _Output, plain

GOOD = "# Book\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n\n> A\n</details>\n"

# Runs the command as the ``ankigen`` script does, then lists the modules the process loaded.
_LOADED = """
import atexit, json, sys
listing = sys.argv[1]
atexit.register(lambda: open(listing, "w").write(json.dumps(sorted(sys.modules))))
from ankigen.__main__ import main
sys.argv = ["ankigen", *sys.argv[2:]]
main()
"""


def loaded(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[set[str], str, str]:
    """The modules the main process of ``ankigen ARGS`` loaded (its output piped), and its output."""
    listing = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, str(listing), *args],
        capture_output=True, text=True, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(listing.read_text())}, done.stdout, done.stderr


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_library_of_the_pipeline(tmp_path: Path, flag: str) -> None:
    modules, out, _ = loaded(tmp_path, flag)
    assert out.startswith("ankigen ") if flag == "--version" else "Usage" in out
    assert not modules & {"rich", "genanki", "markdown", "pygments", "pymdownx", "nh3", "bs4"}
    if flag == "--version":
        assert out == f"ankigen {__version__}\n" and "typer" not in modules  # nor the command line


@pytest.mark.parametrize("colour", [{}, {"NO_COLOR": "1"}])
def test_a_build_printing_to_a_pipe_does_not_load_rich(tmp_path: Path, colour: dict[str, str]) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "book.md").write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out"
    build = ("build", str(notes), "-q", "--cache-dir", str(tmp_path / "cache"), "--out", str(out))
    modules, stdout, stderr = loaded(tmp_path, *build, env=colour)
    assert stdout == f"Wrote 1 package (1 deck, 1 card) from 1 book to {out}/\n" and stderr == ""
    assert "rich" not in modules
    assert "ankigen" in modules and "genanki" in modules  # the build ran in this process
    again, stdout, _ = loaded(tmp_path, *build, env=colour)  # nothing to render or write
    assert stdout == f"Wrote 0 packages, 1 unchanged (1 deck, 1 card) from 1 book to {out}/\n"
    assert not again & {"rich", "genanki", "multiprocessing", "concurrent", "logging"}  # one job: no workers


def test_text_rich_would_change_still_goes_through_rich(tmp_path: Path) -> None:
    """A warning (``path:line:col:``, which rich would read for an emoji) is printed by rich."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "book.md").write_text(GOOD.replace("# Book\n", ""), encoding="utf-8")  # no title: a warning
    modules, _, stderr = loaded(tmp_path, "build", str(notes), "-q", "--no-cache", "--out", str(tmp_path / "out"))
    assert "warning AG110" in stderr and "rich" in modules


def _by_rich(text: str, markup: bool | None, no_color: bool) -> str:
    written = io.StringIO()  # no terminal, as a pipe
    console = Console(file=written, highlight=False, soft_wrap=True, **({"color_system": None} if no_color else {}))
    try:
        console.print(text, style="bold red", markup=markup)
    except MarkupError as error:  # ``[/]``: the same error either way
        return repr(error)
    return written.getvalue()


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.text(
    " :[]/\\-\t\n\r\x1b\x07abc\u3000\u200b\u00a0é😀漢", max_size=200
)


@settings(max_examples=3000, deadline=None)
@given(TEXT, st.sampled_from([None, True, False]), st.booleans())
def test_what_is_printed_without_rich_is_what_rich_prints(text: str, markup: bool | None, no_color: bool) -> None:
    """Every text the plain path takes comes out byte for byte as rich writes it to a pipe (long
    lines, wide characters, brackets and colons included); the rest goes through rich itself."""
    expected = _by_rich(text, markup, no_color)
    written = io.StringIO()
    saved = sys.stdout, os.environ.get("NO_COLOR")
    sys.stdout = written
    os.environ.pop("NO_COLOR", None)
    if no_color:
        os.environ["NO_COLOR"] = "1"
    try:
        output = _Output(stderr=False)
        output.print(text, style="bold red", markup=markup)
    except MarkupError as error:
        written.write(repr(error))
    finally:
        sys.stdout = saved[0]
        os.environ.pop("NO_COLOR", None)
        if saved[1] is not None:
            os.environ["NO_COLOR"] = saved[1]
    assert written.getvalue() == expected, repr(text)
    if plain(text, markup=markup is not False):
        assert output._console is None  # written without rich


def test_a_terminal_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    output = _Output(stderr=True)
    assert output.is_terminal
    output.print("done", style="dim")
    assert output._console is not None and "done" in sys.stderr.getvalue()


def test_forced_colour_is_left_to_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    output = _Output(stderr=False)
    output.print("done", style="bold red")
    assert output.is_terminal and "\x1b[" in sys.stdout.getvalue()


def test_the_markdown_converter_is_made_only_for_a_card_that_needs_it() -> None:
    """Plain paragraphs (most answers) take the fast path: Python-Markdown, the converter and the
    pymdownx extensions load on the first card that needs them, and once."""
    script = """
import sys
from ankigen import render
render.convert("A paragraph with `code`, *emphasis* and $x^2$.\\n\\nAnother one.")
assert not {"markdown", "pymdownx", "ankigen.markdown_github"} & set(sys.modules)
table = render.convert("| a | b |\\n|---|---|\\n| 1 | 2 |")[0]
assert "<table>" in table and "pymdownx" in sys.modules
render.convert("- one\\n- two")
from ankigen import markdown_github
assert markdown_github._converter.cache_info().misses == 1
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_cold_build_loads_the_renderer_once_for_its_workers(tmp_path: Path) -> None:
    """Workers forked for cards to render find the renderer, genanki and its empty collection
    already loaded; a rebuild that renders nothing loads none of them in the main process."""
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("one", "two"):
        (notes / f"{name}.md").write_text(GOOD.replace("# Book", f"# Book {name}"), encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    build = ("build", str(notes), "-q", "--jobs", "2", "--cache-dir", str(cache), "--out", str(out))
    cold, _, _ = loaded(tmp_path, *build)
    assert {"pygments", "nh3", "genanki"} <= cold  # the renderer (Python-Markdown: once a card needs it)
    again, stdout, _ = loaded(tmp_path, *build)
    assert stdout.startswith("Wrote 0 packages, 2 unchanged")
    # Nor, to compare the packages' digests, Pygments or importlib.metadata (and the email package).
    assert not again & {"markdown", "nh3", "genanki", "pygments", "importlib.metadata", "email"}
