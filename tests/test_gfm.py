"""Answers render as GitHub renders them: GitHub's own engine (cmark-gfm) is the oracle, over the seed,
the shared corpus and a generated set of tricky answers (see ``gfm.py`` for what is compared)."""

from __future__ import annotations

import difflib
import itertools
from pathlib import Path

import pytest

from ankigen.extract import read_notes
from ankigen.render import markdown_html, question_html
from ankigen.sanitize import sanitize

from .conftest import SEED, corpus_or_skip
from .gfm import difference

PARAGRAPH = "A line with `code`, **bold**, *em*, ~~gone~~ and a [link](https://example.com)."
FRAGMENTS = {
    "paragraph": PARAGRAPH,
    "nested by 2": "- a\n  - b\n    - c\n- d",
    "nested by 4": "- a\n    - b\n- c",
    "bullets under numbered": "1. one\n   - x\n   - y\n2. two",
    "bullets too shallow for numbered": "1. one\n  - x\n2. two",
    "loose list": "- a\n\n- b\n- c",
    "lazy line": "* item that wraps\nonto a lazy line\n* next",
    "lone dash": "- item\n-",
    "other bullet": "* star\n+ plus",
    "item with two paragraphs": "- first\n\n  second\n- third",
    "numbered from 3": "3) three\n4) four",
    "two quotes": "> a\n\n> b",
    "quote with list": "> quoted\n> - item\n>   - sub",
    "code": "```cpp\nint x = 1; // <stdio.h>\n```",
    "table": "| a | b |\n|---|---|\n| `1` | **2** |",
    "heading": "### Heading",
    "rule": "***",
    "display math": "$$\nx^2\n$$",
    "github math": "Euler: $`e^{i\\pi} = -1`$ and $x$.",
    "not a list": "Text\n2. not a list",
    "image": "![alt](data/x.png)",
    "emphasis and html": 'Some <span style="color:green">green</span> and <code>x</code> text',
    "html line": '<img src="data/x.png" alt="x" width="200"/>',
    "setext heading": "Title\n===",
    "hard break": "line with two spaces  \nnext line",
    "strikethrough": "~one~ and ~~two~~, not cd ~/src or ~100 to ~200",
    "hashes": "#include <stdio.h> and\n#tag, ####### seven",
    "bold italic": "***both*** and *a **b** c*",
    "html blocks": "<div>\n\n*x*\n\n</div>\n<details>\n<summary>More</summary>\n\n- a\n\n</details>",
    "quoted code": "> ```sh\n> ls > out.txt\n> ```\n> after",
    "autolink": "See https://example.com/a_b. or <https://example.org>",
    "escapes": "\\*not emphasis\\* and 2\\. not a list",
    "numbered from 10": "10. ten\n    - under ten\n11. eleven",
    "code in an item": "* item:\n\n  ```sh\n  ls\n  ```\n* next",
    "tabs": "-\tTab item\n\t- sub item",
    "indented code": "Text\n\n    - not a list\n    # not a heading\n    <img src=x.png>\n    $$x$$",
    "link with spaces": "[a link](not a url (really)) and [one](<a b.html>)",
}


def generated() -> dict[str, str]:
    """Every fragment after every other (right under it, and after a blank line), and inside a
    bullet item and a numbered item."""
    cases: dict[str, str] = {}
    for (a, first), (b, second) in itertools.product(FRAGMENTS.items(), repeat=2):
        if not (a.startswith("html") and b in ("code", "quoted code")):  # deliberate: GitHub shows it as text
            cases[f"{a} / {b}"] = f"{first}\n{second}\n"
        cases[f"{a} // {b}"] = f"{first}\n\n{second}\n"
    for name, text in FRAGMENTS.items():
        cases[f"- {name}"] = "- item\n\n" + "\n".join("  " + line if line else "" for line in text.split("\n"))
        cases[f"1. {name}"] = "1. item\n" + "\n".join("   " + line if line else "" for line in text.split("\n"))
    return cases


def _report(differences: list[tuple[str, str, tuple[list[str], list[str]]]]) -> str:
    lines = [f"{len(differences)} answers render differently from GitHub; the first:"]
    for name, text, (ours, github) in differences[:5]:
        lines += [f"--- {name}:", text]
        lines += difflib.unified_diff(github, ours, "github", "ankigen", n=1, lineterm="")
    return "\n".join(lines)


def _answers(paths: list[Path]) -> list[tuple[str, str]]:
    return [
        (f"{path.name}:{card.loc.line}", card.answer)
        for path in paths
        for section in read_notes(path).book.sections
        for card in section.cards
        if card.answer
    ]


def _differences(cases: list[tuple[str, str]]) -> list[tuple[str, str, tuple[list[str], list[str]]]]:
    return [(name, text, found) for name, text in cases if (found := difference(text)) is not None]


def test_generated_answers_render_like_github() -> None:
    cases = generated()
    assert len(cases) > 900
    found = _differences(list(cases.items()))
    assert not found, _report(found)


def test_seed_answers_render_like_github() -> None:
    found = _differences(_answers([SEED]))
    assert not found, _report(found)


def test_corpus_answers_render_like_github() -> None:
    corpus = corpus_or_skip()
    answers = _answers(sorted((corpus / "resources").glob("*.md")))
    assert len(answers) > 1000  # the whole corpus was read
    found = _differences(answers)
    assert not found, _report(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n  - b\n    - c\n- d\n", "<ul>\n<li>a<ul>\n<li>b<ul>\n<li>c</li>"),
        ("1. one\n   - x\n   - y\n2. two\n", "<ol>\n<li>one<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n</li>\n<li>two</li>"),
        ("- item\n-\n", "<ul>\n<li>item</li>\n<li></li>\n</ul>"),
        ("> a\n\n> b\n", "<blockquote>\n<p>a</p>\n</blockquote>\n<blockquote>\n<p>b</p>\n</blockquote>"),
        ("Text line\n$$x^2$$\nmore\n", '<p>Text line</p>\n<div class="arithmatex">\\[x^2\\]</div>\n<p>more</p>'),
        ("Euler $`e^{i\\pi}`$ ok\n", '<p>Euler <span class="arithmatex">\\(e^{i\\pi}\\)</span> ok</p>'),
    ],
    ids=["nested by 2", "bullets under numbered", "lone dash", "two quotes", "display math under text", "$`math`$"],
)
def test_constructs_github_shows(text: str, expected: str) -> None:
    assert expected in sanitize(markdown_html(text))[0]


def test_empty_code_block_shows_no_box() -> None:
    assert markdown_html("Before\n\n```cpp\n``````\n\nAfter\n") == "<p>Before</p>\n<p>After</p>"


def test_github_inline_math_in_a_question() -> None:
    assert question_html("Is $`e^{i\\pi} < 0`$ in `code`?") == (
        'Is <span class="arithmatex">\\(e^{i\\pi} &lt; 0\\)</span> in <code>code</code>?'
    )
