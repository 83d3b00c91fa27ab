"""Bad input, row by row: a clear line with file:line, nothing lost, nothing unsafe, no traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen.cli import app
from ankigen.codes import CODES
from ankigen.extract import extract
from ankigen.render import render_fields

from .conftest import REPO, SEED, TIMESTAMP, AnkiCollection, corpus_or_skip
from .rawcheck import pre_texts

runner = CliRunner()
CARD = "<details>\n<summary>{q}</summary>\n\n{a}\n</details>\n"


def cli(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def notes_dir(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


# ankigen check


def test_check_seed_text_and_exit_codes() -> None:
    code, out, _ = cli("check", str(SEED))
    assert code == 0
    assert out.splitlines()[-1] == "Checked 1 file, 9 cards: 0 errors, 1 warning, 1 notice (-v to show)"
    assert re.search(r"learning-ebpf\.md:2:1: warning AG108 image 'covers/9781098135126\.jpg' not found", out)
    assert cli("check", str(SEED), "--strict")[0] == 1


def test_check_json_and_github(tmp_path: Path) -> None:
    folder = notes_dir(tmp_path, {"x.md": "# X\n<details>\n<summary>Q?</summary>\n> A, with 100% effort\n"})
    code, out, _ = cli("check", str(folder), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["diagnostics"] == [
        {
            "path": str(folder / "x.md"),
            "line": 2,
            "col": 1,
            "severity": "error",
            "code": "AG101",
            "message": "<details> is never closed",
        }
    ]
    assert data["summary"] == {"files": 1, "books": 0, "cards": 0, "errors": 1, "warnings": 0}
    code, out, _ = cli("check", str(folder), "--format", "github")
    assert code == 1
    assert out.strip() == f"::error file={folder / 'x.md'},line=2,col=1,title=AG101::<details> is never closed"
    assert not list(tmp_path.glob("**/*.apkg")) and not (tmp_path / "dist").exists()


def test_check_explain() -> None:
    code, out, _ = cli("check", "--explain", "AG105")
    assert code == 0 and out.startswith("AG105 (error): a code fence is never closed")
    code, _, err = cli("check", "--explain", "AG999")
    assert code == 2 and "unknown code 'AG999'" in err


def test_readme_lists_every_code() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (AG\d{3}) \| (\w+) \| (.+) \|$", readme, re.M)
    assert rows == [(c.code, c.severity.value, c.summary) for c in CODES.values()]


def test_check_finds_the_real_problems_of_the_corpus() -> None:
    corpus = corpus_or_skip()
    code, out, _ = cli("check", str(corpus / "resources"), "--root", str(corpus), "--format", "json")
    assert code == 1
    found = json.loads(out)["diagnostics"]
    by_code: dict[str, int] = {}
    for item in found:
        by_code[item["code"]] = by_code.get(item["code"], 0) + 1
    assert by_code["AG105"] == 1  # 9783967309003.md:1431, a fence never closed
    assert by_code["AG107"] == 2  # two questions asked twice in a book
    assert by_code["AG104"] == 23  # statement cards with nothing under the question
    assert "AG109" not in by_code  # every cover sits inside the corpus folder


# The bad-input table


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("# B\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n\n> A\n", "AG101", 3),
        ("# B\n## Chapter 1/1\n<details>\n\n> A\n</details>\n", "AG102", 3),
        ("# B\n## Chapter 1/1\n<details>\n<summary> </summary>\n\n> A\n</details>\n", "AG103", 3),
        ("# B\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n</details>\n", "AG104", 3),
        ("# B\n<details>\n<summary>Q?</summary>\n\n> ```c\n> int x;\n</details>\n", "AG105", 5),
    ],
)
def test_broken_cards_are_one_line_at_their_line(tmp_path: Path, text: str, code: str, line: int) -> None:
    folder = notes_dir(tmp_path, {"b.md": text})
    exit_code, out, _ = cli("check", str(folder))
    lines = [entry for entry in out.splitlines() if f" {code} " in entry]
    assert lines and lines[0].startswith(f"{folder / 'b.md'}:{line}:1: {CODES[code].severity.value} {code} ")
    assert exit_code == (1 if CODES[code].severity.value == "error" else 0)


def test_card_before_any_heading_goes_to_the_book_deck(tmp_path: Path) -> None:
    folder = notes_dir(tmp_path, {"b.md": "# My Book\n" + CARD.format(q="Q?", a="> A") + "## Chapter 1/1\n"})
    planned = pipeline.plan([folder])
    assert [(d.deck_name, d.filename, len(d.cards)) for d in planned.decks] == [("My Book", "my-book.apkg", 1)]


def test_missing_image_warns_and_the_card_still_builds(tmp_path: Path) -> None:
    folder = notes_dir(tmp_path, {"b.md": "# B\n" + CARD.format(q="Q?", a='> <img src="data/none.png"/>')})
    planned = pipeline.plan([folder])
    assert [(d.code, d.loc.line) for d in planned.diagnostics] == [("AG108", 5)]
    assert len(planned.decks[0].cards) == 1


@pytest.mark.parametrize("src", ["../../../../../../etc/passwd", "/etc/hostname", "link/secret.png", "../outside.png"])
def test_images_outside_the_notes_folder_are_refused(tmp_path: Path, src: str) -> None:
    (tmp_path / "outside.png").write_bytes(b"private")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.png").write_bytes(b"private")
    folder = notes_dir(tmp_path, {"b.md": "# B\n" + CARD.format(q="Q?", a=f'> <img src="{src}"/>')})
    (folder / "link").symlink_to(tmp_path / "elsewhere")
    planned = pipeline.plan([folder], root=folder)
    assert [(d.code, d.loc.line) for d in planned.diagnostics] == [("AG109", 5)]
    assert planned.decks[0].media == ()
    written = pipeline.build([folder], tmp_path / "dist", root=folder, timestamp=TIMESTAMP)
    with zipfile.ZipFile(written.written[0]) as archive:
        assert archive.namelist() == ["collection.anki2", "media"]


def test_images_inside_the_folder_are_packaged(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    folder = notes_dir(
        tmp_path, {"data/pic.png": b"\x89PNG pic", "b.md": "# B\n" + CARD.format(q="Q?", a="> ![pic](data/pic.png)")}
    )
    planned = pipeline.plan([folder], root=folder)
    assert planned.diagnostics == ()
    [media] = planned.decks[0].media
    assert re.fullmatch(r"ankigen-pic-[0-9a-f]{12}\.png", media.name)
    assert f'src="{media.name}"' in planned.decks[0].cards[0].answer
    built = pipeline.build([folder], tmp_path / "dist", root=folder, timestamp=TIMESTAMP)
    imported = anki_collection.import_packages(built.written)
    assert (Path(imported.col.media.dir()) / media.name).read_bytes() == b"\x89PNG pic"  # type: ignore[attr-defined]


UNSAFE = [
    ("<script>alert(1)</script>", "alert(1)"),
    ('<iframe src="https://evil.example"></iframe>', "<iframe"),
    ('<img src="https://example.org/x.png" onerror="alert(1)">', "onerror"),
    ('<a href="javascript:alert(1)">click</a>', "javascript:"),
    ('<b onclick="steal()">bold</b>', "onclick"),
]


@pytest.mark.parametrize(("html", "gone"), UNSAFE)
def test_active_html_is_removed_from_questions_and_answers(tmp_path: Path, html: str, gone: str) -> None:
    text = "# B\n" + CARD.format(q=f"Q {html}?", a=f"> Answer {html}\n>\n> <b>b</b> <sub>2</sub> <code>c</code>")
    planned = pipeline.plan([notes_dir(tmp_path, {"b.md": text})])
    card = planned.decks[0].cards[0]
    assert gone not in card.question and gone not in card.answer
    assert "<b>b</b> <sub>2</sub> <code>c</code>" in card.answer
    assert [(d.code, d.loc.line) for d in planned.diagnostics] == [("AG114", 2)]


def test_safe_html_is_kept(tmp_path: Path) -> None:
    text = "# B\n" + CARD.format(
        q="Use <code>x</code> <b>b</b> <sup>2</sup>?",
        a="> | a | b |\n> |:--|--:|\n> | 1 | 2 |\n>\n"
        '> [link](https://x.org) <img src="https://x.org/i.png" width="20"/>',
    )
    planned = pipeline.plan([notes_dir(tmp_path, {"b.md": text})])
    card = planned.decks[0].cards[0]
    assert card.question == "Use <code>x</code> <b>b</b> <sup>2</sup>?"
    assert '<td style="text-align:left">1</td>' in card.answer
    assert '<a href="https://x.org" rel="noopener noreferrer">link</a>' in card.answer
    assert '<img src="https://x.org/i.png" width="20">' in card.answer
    assert planned.diagnostics == ()


def test_text_that_looks_like_a_tag_is_shown(tmp_path: Path) -> None:
    text = "# B\n" + CARD.format(q="What is `vector<int>`?", a="> Log in as <username> and #include <stdio.h>.")
    card = pipeline.plan([notes_dir(tmp_path, {"b.md": text})]).decks[0].cards[0]
    assert card.question == "What is <code>vector&lt;int&gt;</code>?"
    assert "as &lt;username&gt; and #include &lt;stdio.h&gt;." in card.answer


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe# B\x00\n", "not a text file"),
        (b"# Caf\xe9\n", "not UTF-8"),
        (b"", "the file is empty"),
    ],
)
def test_unreadable_files_are_one_line_and_others_still_build(tmp_path: Path, content: bytes, message: str) -> None:
    folder = notes_dir(tmp_path, {"bad.md": content, "good.md": "# Good\n" + CARD.format(q="Q?", a="> A")})
    code, _, err = cli("build", str(folder), "--out", str(tmp_path / "dist"))
    assert code == 1
    bad = [line for line in err.splitlines() if "bad.md" in line]
    assert len(bad) == 1 and bad[0] == f"{folder / 'bad.md'}:1:1: error AG001 {bad[0].split('AG001 ')[1]}"
    assert message in bad[0]
    assert [p.name for p in (tmp_path / "dist").glob("*.apkg")] == ["good.apkg"]


def test_file_with_no_cards_is_named_and_others_build(tmp_path: Path) -> None:
    folder = notes_dir(
        tmp_path, {"empty.md": "# Empty\n## Chapter 1/2\n", "good.md": "# Good\n" + CARD.format(q="Q?", a="> A")}
    )
    code, out, err = cli("build", str(folder), "--out", str(tmp_path / "dist"))
    assert code == 0 and "AG111" not in err and out.rstrip().endswith("; 1 notice (-v to show)")
    code, _, err = cli("build", str(folder), "--out", str(tmp_path / "dist"), "-v")
    assert code == 0
    assert f"{folder / 'empty.md'}:1:1: notice AG111 no cards (<details> blocks) in this file" in err


def test_bom_crlf_and_tabs_leave_no_stray_characters(tmp_path: Path) -> None:
    text = "\ufeff# B\r\n" + CARD.format(q="Tab\tquestion?", a="> ```c\n> \tint x;\n> ```\n>\n> Done.").replace(
        "\n", "\r\n"
    )
    folder = notes_dir(tmp_path, {"b.md": text.encode("utf-8")})
    planned = pipeline.plan([folder])
    assert planned.decks[0].book == "B"
    card = planned.decks[0].cards[0]
    for field in (card.question, card.answer):
        assert "\r" not in field and "\ufeff" not in field
    assert pre_texts(card.answer) == ["\tint x;\n"]


# Nothing lost


def test_two_builds_into_one_folder_at_once(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    out = tmp_path / "dist"
    args = [sys.executable, "-m", "ankigen", "build", str(SEED), "-q", "--out", str(out)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1767225600"}
    processes = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    outcomes = [(p.communicate(), p.returncode) for p in processes]
    assert [code for _, code in outcomes] == [0, 0, 0, 0], outcomes
    packages = sorted(out.glob("*.apkg"))
    assert [p.name for p in packages] == ["learning-ebpf-chapter-01.apkg", "learning-ebpf-chapter-02.apkg"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    imported = anki_collection.import_packages(packages)
    assert imported.new == 9 and imported.problems() == {}


# No input ever produces a traceback


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<details>",
        "</details>\n</details>",
        "<summary>Q?</summary>",
        "# T\n<details>\n<summary>Q?</summary>\n```\n",
        "# T\n<details>\n<summary>Q?</summary>\n> ```c\n> </details>\n</details>\n<details>\n",
        "# T\n## Chapter x/y\n## Chapter 99999999999999999999/1\n<details>\n<summary>\n</summary>\n</details>",
        "# " + "x" * 10000,
        "# T\n" + CARD.format(q="$$\\begin{equation}$$", a="> $$\n> ```math\n> \\end{equation}"),
        "# T\n" + CARD.format(q="<" * 50, a="> " + "[" * 500 + "](" * 500),
        "# T\n" + CARD.format(q="Q?", a="> <img src='\x7f'> ![a](<>) <img src=''>"),
    ],
)
def test_no_traceback_on_odd_input(tmp_path: Path, text: str) -> None:
    folder = notes_dir(tmp_path, {"odd.md": text})
    for command in ("check", "build"):
        code, _, _ = cli(command, str(folder), *(["--out", str(tmp_path / "dist")] if command == "build" else []))
        assert code in (0, 1)


def _real_texts() -> list[str]:
    texts = [SEED.read_text(encoding="utf-8")]
    corpus = REPO.parent / "shared" / "corpus" / "resources"
    if corpus.is_dir():
        texts += [
            corpus.joinpath(name).read_text(encoding="utf-8") for name in ("9781521822807.md", "9783967300178.md")
        ]
    return texts


_FRAGMENTS = [
    "<details>", "</details>", "<summary>", "</summary>", "```", "``````", "> ```py", "---", "> **References**",
    "<script>x</script>", "<img src='../../x'>", "$", "## Chapter 1/2", "# ", "<!-- id: x -->", "\t", "<b>",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.sampled_from(_real_texts()),
    edits=st.lists(
        st.tuples(st.sampled_from(["drop", "cut", "insert", "dup"]), st.floats(0, 1), st.sampled_from(_FRAGMENTS)),
        max_size=6,
    ),
)
def test_mutated_real_notes_give_cards_or_located_problems(source: str, edits: list[tuple[str, float, str]]) -> None:
    lines = source.split("\n")
    for action, where, fragment in edits:
        at = int(where * len(lines))
        if action == "drop" and lines:
            del lines[min(at, len(lines) - 1)]
        elif action == "cut":
            lines = lines[:at]
        elif action == "insert":
            lines.insert(at, fragment)
        elif lines:
            lines.insert(at, lines[min(at, len(lines) - 1)])
    result = extract("\n".join(lines), "mutated.md")
    for diagnostic in result.diagnostics:
        assert diagnostic.code in CODES
        assert diagnostic.loc.path == "mutated.md" and 1 <= diagnostic.loc.line <= max(len(lines), 1)
    assert result.book is not None
    for section in result.book.sections:
        for card in section.cards:
            assert 1 <= card.loc.line <= len(lines)
            render_fields(card, {})


def _huge_notes(path: Path, size: int) -> int:
    """A notes file of about ``size`` bytes: cards with 1,000-line code blocks. Returns the cards."""
    line = "> ssh <user>@host 'tail -f /var/log/syslog | grep -c \"$PATTERN\"' && echo done # "
    code = "\n".join(f"{line}{j}" for j in range(1000))
    cards = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# Huge Book\n\n## Chapter 1/1\n\n")
        written = 0
        while written < size:
            card = (
                f"<details>\n<summary>Big card {cards}?</summary>\n\n"
                f"> Some *prose*.\n>\n> ```text\n{code}\n> ``````\n</details>\n\n"
            )
            handle.write(card)
            written += len(card)
            cards += 1
    return cards


def _peak_rss(args: list[str]) -> tuple[int, int]:
    """Run a command; its exit code and peak resident memory in bytes (its own, from wait4)."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss * 1024


def test_a_50_mb_notes_file_builds_in_memory_proportional_to_it(tmp_path: Path) -> None:
    peaks = {}
    for megabytes in (10, 50):
        notes = tmp_path / f"huge{megabytes}.md"
        cards = _huge_notes(notes, megabytes * 1_000_000)
        out = tmp_path / f"dist{megabytes}"
        code, peaks[megabytes] = _peak_rss(
            [sys.executable, "-m", "ankigen", "build", str(notes), "--no-cache", "-q", "--out", str(out)]
        )
        assert code == 0
        [package] = out.glob("*.apkg")
        with zipfile.ZipFile(package) as archive:
            assert archive.testzip() is None
        if megabytes == 50:
            assert cards > 500
    # Linear in the input, at most six bytes of memory per byte of notes beyond the first 10 MB.
    assert peaks[50] - peaks[10] < 6 * 40_000_000, peaks


def test_a_missing_image_is_reported_wherever_it_is_named(tmp_path: Path) -> None:
    card = CARD.format(q="{q}", a='> <img src="data/none.png"/>')
    folder = notes_dir(tmp_path, {"b.md": "# B\n" + card.format(q="One?") + card.format(q="Two?")})
    planned = pipeline.plan([folder])
    assert [(d.code, d.loc.line) for d in planned.diagnostics] == [("AG108", 5), ("AG108", 10)]
