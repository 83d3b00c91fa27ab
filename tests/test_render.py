"""The renderer: highlighted code reaches the card exactly, math survives Markdown, nothing raw is left."""

from __future__ import annotations

import re

import pytest

from ankigen.model import Card, SourceLoc
from ankigen.render import (
    highlight_code,
    inline_html,
    lexer_for,
    list_html,
    markdown_html,
    question_html,
    render_fields,
    rewrite_images,
)

from .rawcheck import pre_texts, raw_markdown


def card(answer: str) -> Card:
    return Card("Q?", answer, (), (), (), SourceLoc("notes.md", 1))


CODE = '#include <stdio.h>\nint main() { printf("$HOME & <username> **x** _y_ $a$\\n"); }\n# a shell comment\n'


@pytest.mark.parametrize("closer", ["```", "``````", "```````"])
def test_code_reaches_the_card_exactly(closer: str) -> None:
    out = markdown_html(f"```c\n{CODE}{closer}\n")
    assert pre_texts(out) == [CODE]
    assert '<div class="highlight lang-c">' in out
    assert 'class="cp"' in out  # the preprocessor line is a highlighted token, with a CSS class
    assert "style=" not in out  # classes, never inline styles
    assert "arithmatex" not in out


def test_highlighted_python() -> None:
    out = markdown_html("```py\nfrom bcc import BPF\n```")
    assert '<span class="kn">from</span>' in out


@pytest.mark.parametrize(
    ("lang", "lexer"),
    [
        ("cpp", "C++"),
        ("cp", "C++"),
        ("sh", "Bash"),
        ("docker", "Docker"),
        ("conf", "INI"),
        ("psql", "PostgreSQL console (psql)"),
        ("dts", "Devicetree"),
        ("dtsi", "Devicetree"),
        ("kconfig", "Kconfig"),
        ("sudo", "Text only"),
        ("uml", "Text only"),
        ("txt", "Text only"),
        ("gdb", "Text only"),
        ("", "Text only"),
        ("no-such-language", "Text only"),
    ],
)
def test_lexer_alias_map(lang: str, lexer: str) -> None:
    assert lexer_for(lang).name == lexer


def test_unknown_language_still_renders_exactly() -> None:
    out = highlight_code("a < b && c\n", "no-such-language")
    assert pre_texts(out) == ["a < b && c\n"]


def test_fence_without_blank_line_after_paragraph() -> None:
    out = markdown_html("To check:\n```sh\nmake C=1\n```\nThen run it.")
    assert "<p>To check:</p>" in out
    assert "<p>Then run it.</p>" in out
    assert pre_texts(out) == ["make C=1\n"]


def test_fence_inside_list_item() -> None:
    out = markdown_html("1. Build:\n\n    ```sh\n    make\n    ```\n\n2. Run.")
    assert pre_texts(out) == ["make\n"]
    assert out.count("<li>") == 2


def test_inline_math_is_not_mangled_by_markdown() -> None:
    out = markdown_html(r"where $a_0,a_1,a_n$ and $x^*y^*$ are constants; `$HOME` is not math")
    assert r"\(a_0,a_1,a_n\)" in out
    assert r"\(x^*y^*\)" in out
    assert "<em>" not in out
    assert "<code>$HOME</code>" in out


def test_dollars_in_prose_are_not_math() -> None:
    out = markdown_html("It costs $5 and $10.")
    assert "arithmatex" not in out and "$5 and $10" in out


def test_math_block() -> None:
    out = markdown_html("```math\n\\begin{equation}\n  f(x) = x_1 < y_2\n\\end{equation}\n``````")
    assert '<div class="math">\\[f(x) = x_1 &lt; y_2\\]</div>' in out


def test_math_fence_with_plain_text() -> None:
    out = markdown_html("```math\nT(v+w) = T(v) + T(w) for all v,w\n``````")
    assert "\\[T(v+w) = T(v) + T(w) for all v,w\\]" in out


def test_question_html() -> None:
    assert question_html("How does <code>eBPF</code> help?") == "How does <code>eBPF</code> help?"
    assert question_html("Prefer `nullptr` over `NULL`:") == "Prefer <code>nullptr</code> over <code>NULL</code>:"
    assert (
        question_html("Use `a<b>` and <code>$x$ **y**</code>")
        == "Use <code>a&lt;b&gt;</code> and <code>$x$ **y**</code>"
    )
    assert question_html("Vectors $v,w ∈ R$?") == 'Vectors <span class="arithmatex">\\(v,w ∈ R\\)</span>?'
    assert question_html("In **Insert mode**:") == "In <b>Insert mode</b>:"


def test_lists_tables_links_emphasis() -> None:
    out = markdown_html(
        "Benefits of `auto`:\n* one\n* two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n**bold** *it* [link](https://x.org)"
    )
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in out
    assert "<table>" in out and "<td>1</td>" in out
    assert "<strong>bold</strong>" in out and "<em>it</em>" in out and '<a href="https://x.org">link</a>' in out


def test_bare_urls_become_links() -> None:
    assert '<a href="https://ubuntu.com/">https://ubuntu.com/</a>' in markdown_html("Get it from https://ubuntu.com/.")


def test_footer_lists() -> None:
    refs = list_html(
        ('[std::move](https://en.cppreference.com/w/cpp/utility/move "title")', "https://linux-mm.org", "1.1"),
        "references",
    )
    assert refs.startswith('<ul class="references"><li><a href="https://en.cppreference.com/w/cpp/utility/move"')
    assert '<a href="https://linux-mm.org">https://linux-mm.org</a>' in refs
    assert "<li>1.1</li>" in refs
    assert list_html((), "resources") == ""
    assert inline_html("Docker Deep Dive - Chapter 3") == "Docker Deep Dive - Chapter 3"
    assert inline_html("a < b & c") == "a &lt; b &amp; c"


def test_images_point_at_media_names() -> None:
    out = render_fields(
        card('<img src="data/bag.png" alt="bag"/>\n\n![d](img/d.svg)'),
        {"data/bag.png": "m1.png", "img/d.svg": "m2.svg"},
    ).answer
    assert 'src="m1.png"' in out and 'src="m2.svg"' in out
    assert rewrite_images('<img src="x.png">', {}) == '<img src="x.png">'


def test_raw_html_in_answer_is_kept() -> None:
    out = markdown_html("Text with <b>bold</b> and <sub>2</sub>.")
    assert "<b>bold</b>" in out and "<sub>2</sub>" in out


def test_rawcheck_finds_raw_markdown() -> None:
    """The check the import tests rely on must be able to fail."""
    assert raw_markdown("<p>**x** and [a](b)</p>") != []
    assert raw_markdown("<p>```c</p>") != []
    assert raw_markdown("<pre>**x** ```</pre><code>`a`</code>") == []


@pytest.mark.parametrize(
    ("fragment", "kept"),
    [
        ('<span style="color:green">ok</span>', '<span style="color:green">ok</span>'),
        ('<span style="background-color: #ff0; font-weight: bold">x</span>', "background-color:#ff0;font-weight:bold"),
        (
            '<em style="font-style: normal; text-decoration: underline">x</em>',
            "font-style:normal;text-decoration:underline",
        ),
    ],
)
def test_authors_colours_and_emphasis_stay(fragment: str, kept: str) -> None:
    assert kept in render_fields(card(f"A {fragment}"), {}).answer


@pytest.mark.parametrize("header", ["a", "<b>a</b>"])  # with markup of the author's, sanitized
def test_table_alignment_stays(header: str) -> None:
    answer = render_fields(card(f"| {header} |\n|--:|\n| 1 |"), {}).answer
    assert re.search(r'<td style="text-align: ?right;?">1</td>', answer), answer


@pytest.mark.parametrize(
    "style",
    [
        "background: url(https://tracker.example/x.png)",
        "background-color: url(javascript:alert(1))",
        "color: expression(alert(1))",
        "position: fixed; top: 0; left: 0; width: 100%; height: 100%",
        "background-image: url(x.png)",
        "color: var(--x)",
        "color: \\75rl(x)",
    ],
)
def test_styles_that_load_or_move_are_dropped(style: str) -> None:
    answer = render_fields(card(f'A <span style="{style}">x</span>'), {}).answer
    assert "style" not in answer and "url" not in answer and ">x</span>" in answer


def test_fence_whose_info_is_a_no_break_space() -> None:
    # Python's split() takes U+00A0 for a space: this used to raise IndexError, a traceback for the user.
    assert pre_texts(markdown_html("a\n```\xa0\nx\n```")) == ["x\n"]
