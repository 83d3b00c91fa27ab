"""Which books a build takes and where their decks go: no package overwrites another, copies of a book
are built once, ``exclude`` leaves files out, and ``list`` counts what ``build`` writes (issue #10)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen.apkginfo import read_package
from ankigen.cli import app
from ankigen.extract import extract

from .conftest import TIMESTAMP

runner = CliRunner()
CARD = "<details>\n<summary>{q}</summary>\n\n> {a}\n</details>\n\n"


def card(q: str, a: str = "An answer.") -> str:
    return CARD.format(q=q, a=a)


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def sources(out_dir: Path) -> dict[str, list[str]]:
    """Each package's name -> the Source fields of its notes."""
    found = {}
    for apkg in sorted(out_dir.glob("*.apkg")):
        found[apkg.name] = [dict(n.fields)["Source"] for n in read_package(apkg).notes]
    return found


def test_sections_with_one_deck_name_are_one_deck(tmp_path: Path) -> None:
    """Two `## Default Value` sections far apart: one deck, one package, cards in source order."""
    text = (
        "# Book\n\n## Default Value\n\n" + card("First?") + "## Other\n\n" + card("Other?")
        + "## Default value\n\n" + card("Second?")
    )  # fmt: skip
    folder = write(tmp_path / "notes", {"book.md": text})
    result = pipeline.build([folder], tmp_path / "dist", timestamp=TIMESTAMP, jobs=1)
    found = sources(tmp_path / "dist")
    assert sorted(found) == ["book-default-value.apkg", "book-other.apkg"]
    assert [s.rsplit(":", 1)[1] for s in found["book-default-value.apkg"]] == ["5", "21"]
    assert len(result.written) == 2 and result.cards == 3
    warnings = [d for d in result.diagnostics if d.code == "AG115"]
    assert len(warnings) == 1
    assert warnings[0].loc.line == 19 and warnings[0].loc.path.endswith("book.md")
    assert "book.md:3" in warnings[0].message and "Default Value" in warnings[0].message


def test_titles_that_slug_alike_get_distinct_stable_names(tmp_path: Path) -> None:
    files = {
        "c.md": "# C Primer\n\n## Chapter 1/1\n\n" + card("About C?"),
        "cpp.md": "# C++ Primer\n\n## Chapter 1/1\n\n" + card("About C++?"),
    }
    folder = write(tmp_path / "notes", files)
    both = pipeline.build([folder], tmp_path / "both", timestamp=TIMESTAMP, jobs=1)
    names = sorted(p.name for p in (tmp_path / "both").glob("*.apkg"))
    assert len(names) == 2 and len(both.written) == 2
    for name in files:  # a build of one book names its package as the build of both did
        pipeline.build([folder / name], tmp_path / name, timestamp=TIMESTAMP, jobs=1)
        (alone,) = (tmp_path / name).glob("*.apkg")
        assert alone.name in names
        assert sources(tmp_path / name)[alone.name] == sources(tmp_path / "both")[alone.name]
    assert "c-primer-chapter-01.apkg" in names  # a plain title keeps its plain name


def test_sections_that_slug_alike_get_distinct_names(tmp_path: Path) -> None:
    text = "# Langs\n\n## C\n\n" + card("C?") + "## C++\n\n" + card("C++?") + "## C/C++\n\n" + card("C/C++?")
    folder = write(tmp_path / "notes", {"langs.md": text})
    result = pipeline.build([folder], tmp_path / "dist", timestamp=TIMESTAMP, jobs=1)
    assert len(list((tmp_path / "dist").glob("*.apkg"))) == len(result.written) == 3


def test_staging_refuses_two_decks_at_one_path(tmp_path: Path) -> None:
    """Two packages of one name in one build is a bug of ankigen, never a silent overwrite."""
    outcome = pipeline.StagedPackage("x.apkg", ("A",), 1, "d", None)
    with pytest.raises(pipeline.InternalError, match=r"x\.apkg"):
        pipeline.check_distinct([outcome, pipeline.StagedPackage("x.apkg", ("B",), 1, "e", None)])


def test_identical_copies_are_built_once_with_one_notice(tmp_path: Path) -> None:
    text = "# Learning eBPF\n\n## Chapter 1/1\n\n" + card("Q1?") + card("Q2?")
    crlf = "\ufeff" + text.replace("\n", "\r\n")  # the same notes, saved with a BOM and CRLF
    folder = write(tmp_path / "notes", {"9781098135126.md": text, "learning-ebpf.md": crlf})
    code, out, err = cli("build", str(folder), "--out", str(tmp_path / "dist"))
    assert code == 0, err
    assert "Wrote 1 package (1 deck, 2 cards) from 1 book to" in out and "1 notice (-v to show)" in out
    assert "AG116" not in err  # a notice: counted, shown with -v
    code, out, err = cli("build", str(folder), "--out", str(tmp_path / "dist"), "-v")
    assert code == 0, err
    (notice,) = [line for line in err.splitlines() if "AG116" in line]
    assert "learning-ebpf.md:1:1: notice AG116" in notice and "9781098135126.md" in notice
    assert "AG112" not in err


def test_differing_copies_build_the_larger_and_say_which_is_left_out(tmp_path: Path) -> None:
    small = "# Book\n\n## Chapter 1/1\n\n" + card("Q1?")
    large = small + card("Q2?") + card("Q3?")
    folder = write(tmp_path / "notes", {"a-old.md": small, "b-new.md": large})
    result = pipeline.build([folder], tmp_path / "dist", timestamp=TIMESTAMP, jobs=1)
    assert result.cards == 3 and result.books == 1
    assert {s.split(":")[0].rsplit("/", 1)[1] for v in sources(tmp_path / "dist").values() for s in v} == {"b-new.md"}
    (error,) = [d for d in result.diagnostics if d.code == "AG112"]
    assert error.loc.path.endswith("a-old.md") and error.loc.line == 1
    assert "b-new.md" in error.message and "more cards" in error.message
    assert [d.code for d in result.diagnostics] == ["AG112"]  # nothing else of the left-out file
    # Ties go to the first path, whatever order the files are named in.
    write(folder, {"a-old.md": large.replace("Q3?", "Q4?")})
    for order in ([folder / "b-new.md", folder / "a-old.md"], [folder / "a-old.md", folder / "b-new.md"]):
        tie = pipeline.build(order, None, jobs=1)
        (error,) = [d for d in tie.diagnostics if d.code == "AG112"]
        assert error.loc.path.endswith("b-new.md") and "a-old.md" in error.message


def test_exclude_leaves_files_out_of_every_command(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "notes",
        {
            "README.md": "# Index\n\n[a](a/book.md)\n",
            "a/book.md": "# Book\n\n## Chapter 1/1\n\n" + card("Q1?"),
            "a/isbn-123.md": "# Book\n\n## Chapter 1/1\n\n" + card("Q1?") + card("Extra?"),
            "old/draft.md": "# Draft\n\n" + card("Draft?"),
        },
    )
    args = ["--exclude", "README.md", "--exclude", "a/isbn-*.md", "--exclude", "old"]
    code, out, err = cli("build", str(folder), "--out", str(tmp_path / "dist"), *args)
    assert code == 0, err
    assert "Wrote 1 package (1 deck, 1 card) from 1 book" in out
    assert "AG111" not in err and "AG112" not in err
    code, out, _ = cli("check", str(folder), *args)
    assert code == 0 and "Checked 1 file, 1 card" in out
    code, out, _ = cli("list", str(folder), "--json", *args)
    assert [b["path"].rsplit("/", 1)[1] for b in json.loads(out)["books"]] == ["book.md"]
    code, out, _ = cli("preview", str(folder), "--out", str(tmp_path / "site"), *args)
    assert code == 0 and "(1 card)" in out
    # The same from the configuration; `**` crosses folders.
    config = tmp_path / "ankigen.toml"
    config.write_text('exclude = ["**/README.md", "a/isbn-*", "old/**"]\n', encoding="utf-8")
    code, out, _ = cli("check", str(folder), "--config", str(config))
    assert code == 0 and "Checked 1 file, 1 card" in out
    config.write_text("exclude = 3\n", encoding="utf-8")
    code, _, err = cli("check", str(folder), "--config", str(config))
    assert code == 2 and "'exclude'" in err


def test_a_summary_not_closed_on_its_line_is_an_error_and_the_next_card_is_kept() -> None:
    text = (
        "# B\n\n<details>\n<summary>Unclosed question\n\n> Its answer.\n</details>\n\n"
        "<details>\n<summary>Next?</summary>\n\n> Next answer.\n</details>\n\n"
        "<details>\n<summary>Spread over\ntwo lines?</summary>\n\n> Answer.\n</details>\n"
    )
    extracted = extract(text, "b.md")
    assert extracted.book is not None
    cards = [c for s in extracted.book.sections for c in s.cards]
    assert [c.key for c in cards] == ["Unclosed question", "Next?", "Spread over two lines?"]
    assert "Its answer." in cards[0].answer and "Next" not in cards[0].question
    errors = [(d.code, d.loc.line) for d in extracted.diagnostics]
    assert errors == [("AG117", 4), ("AG117", 16)]


def test_list_counts_what_build_writes(tmp_path: Path) -> None:
    book = "# Book\n\n## Chapter 1/1\n\n" + card("Q1?") + card("Q2?")
    folder = write(
        tmp_path / "notes",
        {"a.md": book, "b.md": book, "c.md": book.replace("Q2?", "Q3?") + card("Q4?"), "README.md": "# Index\n"},
    )
    (folder / "bad.md").write_bytes(b"# Bad\n\xff\n")
    _, out, _ = cli("list", str(folder))
    result = pipeline.build([folder], tmp_path / "dist", jobs=1)
    assert re.search(rf"^1 book, {result.cards} cards$", out, re.M), out
    assert result.cards == 3


@pytest.mark.parametrize(
    ("pattern", "path", "left_out"),
    [
        ("README.md", "README.md", True),
        ("README.md", "subjects/cpp/README.md", True),  # no `/`: a name at any depth
        ("readme.md", "README.md", False),
        ("subjects/*/isbn-*.md", "subjects/cpp/isbn-1.md", True),
        ("subjects/*/isbn-*.md", "subjects/cpp/resources/isbn-1.md", False),  # `*` stays in a name
        ("subjects/**/isbn-*.md", "subjects/cpp/resources/isbn-1.md", True),
        ("**/isbn-*.md", "isbn-1.md", True),
        ("old", "old/a/b.md", True),  # a folder: everything in it
        ("old/**", "old/b.md", True),
        ("old/", "notes/old/b.md", True),  # a `/` at the end only: still any depth
        ("/old", "notes/old/b.md", False),  # a `/` before: from the folder named
        ("/old", "old/b.md", True),
        ("b?.md", "b1.md", True),
        ("[!a]*.md", "a.md", False),
    ],
)
def test_exclude_patterns(pattern: str, path: str, left_out: bool) -> None:
    from ankigen.library import excluded

    assert excluded(Path(path), [pattern]) is left_out


def test_excluding_every_file_is_one_line_exit_2(tmp_path: Path) -> None:
    folder = write(tmp_path / "notes", {"a.md": "# A\n\n" + card("Q?")})
    code, _, err = cli("build", str(folder), "--out", str(tmp_path / "dist"), "--exclude", "*.md")
    assert code == 2 and err.strip() == f"error: {folder}: every .md file in this folder is excluded"
    code, _, err = cli("check", str(folder), "--exclude", "/")
    assert code == 2 and "--exclude" in err
