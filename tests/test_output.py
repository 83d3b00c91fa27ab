"""A large library reads well: problems first, notices counted (shown with -v), one hint when
there are many packages, and a clear line for every usage mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ankigen import config

from .conftest import REPO, SEED
from .test_bad_input import cli as run

CARD = "<details>\n<summary>{q}</summary>\n\n> A\n</details>\n"


def _library(tmp_path: Path) -> Path:
    """A README index page (AG111), a book with an empty chapter (AG113) and a missing image (AG108)."""
    notes = tmp_path / "notes"
    (notes / "topic").mkdir(parents=True)
    (notes / "topic" / "README.md").write_text("# Topic\n\n- [a book](book.md)\n", encoding="utf-8")
    card = CARD.format(q="Q?").replace("> A", '> A <img src="gone.png">')
    book = "# Book\n\n## Chapter 1/2\n\n" + card + "\n## Chapter 2/2\n"
    (notes / "topic" / "book.md").write_text(book, encoding="utf-8")
    return notes


@pytest.mark.parametrize("command", ["build", "check"])
def test_notices_are_counted_by_default_and_shown_with_v(tmp_path: Path, command: str) -> None:
    notes = _library(tmp_path)
    extra = ["--out", str(tmp_path / "dist")] if command == "build" else []
    for flags in ([], ["-q"]):
        code, out, err = run(command, str(notes), *extra, *flags)
        assert code == 0, err
        shown = out + err
        assert "AG108" in shown and "AG111" not in shown and "AG113" not in shown, (flags, shown)
        assert out.splitlines()[-1].endswith("1 warning, 2 notices (-v to show)"), out
    code, out, err = run(command, str(notes), *extra, "-v")
    shown = out + err
    assert code == 0 and "AG108" in shown and "AG111" in shown and "AG113" in shown
    assert out.splitlines()[-1].endswith("1 warning, 2 notices"), out


def _books(tmp_path: Path, count: int) -> Path:
    notes = tmp_path / f"notes-{count}"
    notes.mkdir()
    for number in range(count):
        (notes / f"b{number}.md").write_text(f"# Book {number}\n\n" + CARD.format(q="Q?"), encoding="utf-8")
    return notes


def test_many_packages_say_how_to_get_them_into_anki_at_once(tmp_path: Path) -> None:
    code, out, _ = run("build", str(_books(tmp_path, 21)), "--out", str(tmp_path / "many"))
    assert code == 0 and "Wrote 21 packages" in out
    assert "--split all" in out.splitlines()[-1] and "ankigen sync" in out.splitlines()[-1]
    code, out, _ = run("build", str(_books(tmp_path, 20)), "--out", str(tmp_path / "few"))
    assert code == 0 and "Wrote 20 packages" in out and "--split all" not in out
    code, out, _ = run("build", str(tmp_path / "notes-21"), "--out", str(tmp_path / "one"), "--split", "all")
    assert code == 0 and "Wrote 1 package" in out and "--split all" not in out


@pytest.mark.parametrize("command", ["build", "check", "preview", "list"])
def test_no_notes_named_anywhere_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no argument, no seeds/, no configuration
    code, _, err = run(command)
    assert code == 2
    assert f"ankigen {command} NOTES_DIR" in err, err
    assert "seeds" not in err
    assert not list(tmp_path.iterdir()), "nothing written"


def _readme_examples() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Configuration", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.findall(r"```toml\n(.*?)```", section, re.S)


def test_each_readme_configuration_example_works_pasted_into_its_file(tmp_path: Path) -> None:
    examples = _readme_examples()
    own = [text for text in examples if "[tool.ankigen]" not in text]
    project = [text for text in examples if "[tool.ankigen]" in text]
    assert len(own) == 1 and len(project) == 1, "one example for ankigen.toml, one for pyproject.toml"
    loaded = []
    for name, text in (("ankigen.toml", own[0]), ("pyproject.toml", project[0])):
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / name).write_text(text, encoding="utf-8")
        found = config.load(folder=folder)
        assert found.origin == folder / name
        assert found.sources == (folder / "notes",) and found.out == folder / "dist"
        loaded.append({k: v for k, v in vars_of(found).items() if k not in {"origin", "sources", "out", "root"}})
    assert loaded[0] == loaded[1], "the two forms say the same"


def vars_of(found: config.Config) -> dict[str, object]:
    return {name: getattr(found, name) for name in found.__slots__}


def test_the_tool_table_pasted_into_ankigen_toml_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "ankigen.toml").write_text('[tool.ankigen]\nout = "dist"\n', encoding="utf-8")
    with pytest.raises(config.UsageError, match=r"without the \[tool.ankigen\] line"):
        config.load(folder=tmp_path)


def test_preview_into_a_file_is_bad_usage_like_build(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("mine", encoding="utf-8")
    for command in ("build", "preview"):
        code, _, err = run(command, str(SEED), "--out", str(target))
        assert code == 2, (command, err)
        assert str(target) in err
    assert target.read_text(encoding="utf-8") == "mine"
