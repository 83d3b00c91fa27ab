"""The extractor: every variant of ../shared/FORMAT.md, each trap, and the exact file:line of problems."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from ankigen.errors import ReadError
from ankigen.extract import decode, dequote, extract, question_key, read_notes, strip_status
from ankigen.model import Book, Card, Severity

from .conftest import SEED


def book_of(text: str, path: str = "notes.md") -> Book:
    result = extract(dedent(text), path)
    assert result.book is not None
    return result.book


def cards_of(text: str) -> list[Card]:
    return [card for section in book_of(text).sections for card in section.cards]


def only_card(text: str) -> Card:
    cards = cards_of(text)
    assert len(cards) == 1, cards
    return cards[0]


def codes(text: str) -> list[tuple[str, int, Severity]]:
    return [(d.code, d.loc.line, d.severity) for d in extract(dedent(text), "notes.md").diagnostics]


CARD = """\
<details>
<summary>{question}</summary>

{answer}
</details>
"""


def test_seed_structure() -> None:
    result = read_notes(SEED)
    book = result.book
    assert book is not None
    assert book.title == "Learning eBPF"
    assert book.cover is not None and book.cover.src == "covers/9781098135126.jpg" and book.cover.loc.line == 2
    assert len(book.sections) == 11
    assert [len(s.cards) for s in book.sections] == [4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert [s.number for s in book.sections] == list(range(1, 12))
    assert {s.total for s in book.sections} == {11}
    first = book.sections[0].cards[0]
    assert first.loc.line == 6
    assert first.question == "How does <code>eBPF</code> help us to learn application behavior?"
    assert first.answer.startswith("With `eBPF` we can add instrumentation")
    assert first.resources == ("1",)
    assert first.references == ()
    assert [d.code for d in result.diagnostics] == []


def test_seed_answer_split_by_blank_line_keeps_footer_apart() -> None:
    """Seed chapter 1, cards 2-4: a blank line splits the quote; the footer still comes off."""
    book = read_notes(SEED).book
    assert book is not None
    card = book.sections[0].cards[2]
    assert card.answer.splitlines()[0] == "`eBPF` programs can be loaded into and removed from the kernel dynamically."
    assert "Resources" not in card.answer and "---" not in card.answer
    assert card.resources == ("1",)


def test_seed_code_block_closed_by_six_backticks() -> None:
    book = read_notes(SEED).book
    assert book is not None
    card = book.sections[1].cards[0]
    assert card.answer.startswith("```py\n#!/usr/bin/python3\n\nfrom bcc import BPF")
    assert card.answer.count("``````") == 4
    assert card.resources == ("2",)


@pytest.mark.parametrize(
    ("heading", "title"),
    [
        ("# Learning eBPF", "Learning eBPF"),
        ("# [The C++ Standard Library](https://example.com/x?a=1&b=2)", "The C++ Standard Library"),
        ("# [Docker in Practice](#)", "Docker in Practice"),
        ("# Sudo Mastery <sup>(published)</sup>", "Sudo Mastery"),
        ("# Tom &amp; Jerry", "Tom & Jerry"),
    ],
)
def test_title(heading: str, title: str) -> None:
    assert book_of(heading + "\n").title == title


def test_missing_title_uses_file_name() -> None:
    result = extract(CARD.format(question="Q?", answer="> A"), "notes/my-book.md")
    assert result.book is not None and result.book.title == "my-book"
    assert [(d.code, d.loc.line) for d in result.diagnostics] == [("AG110", 1)]


@pytest.mark.parametrize(
    ("heading", "name", "status"),
    [
        ("Chapter 2/11", "Chapter 2/11", None),
        ("Chapter 2/11 <sup>(published)</sup>", "Chapter 2/11", "published"),
        ("Swaps <sup>(completed => edited => published)</sup>", "Swaps", "completed => edited => published"),
        ("Chapter 7/9 <sup>(published)", "Chapter 7/9", "published"),
        ("Chapter 3/4 (ignored)", "Chapter 3/4", "ignored"),
        ("Sorting (in place)", "Sorting (in place)", None),
        ("Chapter 04 <sup>(writing)</span>", "Chapter 04", "writing"),
        ("Chapter 5/12 <sub>(writing)</sub>", "Chapter 5/12", "writing"),
        ("std::variant <sup>(completed)<sup>", "std::variant", "completed"),
    ],
)
def test_heading_status(heading: str, name: str, status: str | None) -> None:
    assert strip_status(heading) == (name, status)


def test_sections_numbered_and_named() -> None:
    book = book_of(
        """\
        # Book
        ## Chapter 2/11 <sup>(published)</sup>
        ## Sorting <sup>(published)</sup>
        ## Views
        """
    )
    assert [(s.name, s.number, s.total, s.status, s.loc.line) for s in book.sections] == [
        ("Chapter 2/11", 2, 11, "published", 2),
        ("Sorting", None, None, "published", 3),
        ("Views", None, None, None, 4),
    ]


def test_card_before_any_heading_belongs_to_the_book() -> None:
    book = book_of("# Book\n\n" + CARD.format(question="Q?", answer="> A") + "\n## Chapter 1/2\n")
    assert book.sections[0].name == "Book" and book.sections[0].number is None
    assert len(book.sections[0].cards) == 1
    assert book.sections[1].cards == ()


def test_question_keeps_inline_html_and_backticks() -> None:
    card = only_card(CARD.format(question="Prefer `nullptr` over <code>NULL</code> &amp; <i>why</i>:", answer="> A"))
    assert card.question == "Prefer `nullptr` over <code>NULL</code> &amp; <i>why</i>:"


def test_summary_with_leading_space() -> None:
    card = only_card("<details>\n <summary>Set bits?</summary>\n\n> A\n</details>\n")
    assert card.question == "Set bits?"


def test_old_style_origin_and_references_footer() -> None:
    card = only_card(
        """\
        <details>
        <summary>Inspect the standard version:</summary>

        > ```cpp
        > int main() {}
        > ``````

        > Origin:
        > - 2

        > References:
        > - [Predefined macros](https://en.cppreference.com/w/cpp/preprocessor/replace "cpp/preprocessor")
        ---
        </details>
        """
    )
    assert card.answer == "```cpp\nint main() {}\n``````"
    assert card.resources == ("Origin: 2",)
    assert card.references == (
        '[Predefined macros](https://en.cppreference.com/w/cpp/preprocessor/replace "cpp/preprocessor")',
    )


def test_inline_origin_value() -> None:
    card = only_card(CARD.format(question="Q?", answer="> A\n\n> Origin: 1.1\n\n> References:\n---"))
    assert card.answer == "A"
    assert card.resources == ("Origin: 1.1",)
    assert card.references == ()


def test_origin_label_stays_with_a_video_position() -> None:
    card = only_card(CARD.format(question="Q?", answer="> A\n> ---\n> Origin: 3:25:00\n> ---"))
    assert card.resources == ("Origin: 3:25:00",)


def test_empty_code_block_is_a_warning_at_its_line() -> None:
    answer = "> Text\n>\n> ```cpp\n> ``````\n>\n> ```sh\n>\n> ```\n>\n> ```\n> x\n> ```"
    assert codes("# B\n" + CARD.format(question="Q?", answer=answer)) == [
        ("AG130", 7, Severity.WARNING),
        ("AG130", 10, Severity.WARNING),
    ]


def test_new_style_footer_with_rules_and_empty_items() -> None:
    card = only_card(
        CARD.format(
            question="Q?",
            answer="> A\n>\n> ---\n> **Resources**\n> - Docker Deep Dive - Chapter 3\n> -\n> ---\n> **References**\n"
            "> - https://example.com/a\n> ---",
        )
    )
    assert card.answer == "A"
    assert card.resources == ("Docker Deep Dive - Chapter 3",)
    assert card.references == ("https://example.com/a",)


def test_references_after_details_belong_to_the_card_above() -> None:
    cards = cards_of(
        """\
        # Book
        ## Chapter 1/1
        <details>
        <summary>Lookup system calls:</summary>

        ```sh
        man 1 man
        ```
        </details>

        * [man(1)](https://manpages.org/man/1)
        * [apropos(1)](https://manpages.org/apropos/1)

        <details>
        <summary>Second?</summary>

        > B
        </details>
        """
    )
    assert cards[0].answer == "```sh\nman 1 man\n```"
    assert cards[0].references == (
        "[man(1)](https://manpages.org/man/1)",
        "[apropos(1)](https://manpages.org/apropos/1)",
    )
    assert cards[1].references == ()
    assert cards[1].loc.line == 14


def test_unquoted_code_mixed_with_quoted_prose() -> None:
    card = only_card(
        """\
        <details>
        <summary>Use sparse?</summary>

        > To check recompiled headers:

        ```sh
        make C=1 CHECK=/usr/bin/sparse
        ```

        > To check all headers:
        </details>
        """
    )
    assert (
        card.answer
        == "To check recompiled headers:\n\n```sh\nmake C=1 CHECK=/usr/bin/sparse\n```\n\nTo check all headers:"
    )


def test_unquoted_rule_under_text_stays_a_rule() -> None:
    """``text`` above a bare ``---`` is a setext heading to Markdown; a blank line keeps it a rule."""
    card = only_card(CARD.format(question="Q?", answer="> first\n---\n> second"))
    assert card.answer == "first\n\n---\nsecond"


def test_description_label_is_dropped() -> None:
    card = only_card(CARD.format(question="Q?", answer="> **Description**\n>\n> The answer."))
    assert card.answer == "The answer."


@pytest.mark.parametrize("closer", ["```", "``````", "```````"])
def test_fences_closed_by_three_six_or_seven_backticks(closer: str) -> None:
    card = only_card(CARD.format(question="Q?", answer=f"> ```c\n> int x;\n> {closer}\n>\n> after"))
    assert card.answer == f"```c\nint x;\n{closer}\n\nafter"


def test_details_and_summary_inside_code_are_code() -> None:
    card = only_card(
        CARD.format(
            question="HTML disclosure?",
            answer="> ```html\n> <details>\n> <summary>Inner</summary>\n> </details>\n> ``````\n>\n> Done.",
        )
    )
    assert "<summary>Inner</summary>\n</details>\n``````" in card.answer
    assert card.answer.endswith("Done.")


def test_unquoted_details_inside_unquoted_code_is_code() -> None:
    cards = cards_of(
        "<details>\n<summary>Q?</summary>\n\n```html\n</details>\n```\n</details>\n\n"
        + CARD.format(question="Next?", answer="> B")
    )
    assert [c.question for c in cards] == ["Q?", "Next?"]
    assert cards[0].answer == "```html\n</details>\n```"


def test_code_text_kept_exactly() -> None:
    code = '#include <stdio.h>\nssh <username>@host "$HOME" **not bold** &amp; <b>x</b>\n# not a heading'
    quoted = "\n".join("> " + line for line in code.splitlines())
    card = only_card(CARD.format(question="Q?", answer=f"> ```c\n{quoted}\n> ``````"))
    assert card.answer == f"```c\n{code}\n``````"


def test_crlf_bom_and_tabs() -> None:
    text = (
        "\ufeff# Book\r\n## Chapter 1/1\r\n<details>\r\n<summary>Q?</summary>\r\n\r\n"
        "> ```c\r\n> \tint x;\r\n> ```\r\n</details>\r\n"
    )
    decoded = decode(text.encode("utf-8"), "notes.md")
    assert "\r" not in decoded and "\ufeff" not in decoded
    card = only_card(decoded)
    assert card.answer == "```c\n\tint x;\n```"


def test_dequote() -> None:
    assert dequote("> text") == "text"
    assert dequote(">text") == "text"
    assert dequote(">") == ""
    assert dequote(">     indented") == "    indented"
    assert dequote("> > nested") == "> nested"
    assert dequote("plain > not a quote") == "plain > not a quote"


def test_images_are_collected_with_their_lines() -> None:
    card = only_card(
        CARD.format(
            question="Q?", answer='> <img src="data/bag.png" alt="ADT bag" width="200px"/>\n>\n> ![diagram](img/d.svg)'
        )
    )
    assert [(i.src, i.loc.line) for i in card.images] == [("data/bag.png", 4), ("img/d.svg", 6)]


def test_explicit_id() -> None:
    card = only_card(CARD.format(question="Q?", answer="<!-- id: ebpf-verifier -->\n> A"))
    assert card.explicit_id == "ebpf-verifier"
    assert card.answer == "A"


def test_question_key_ignores_markup_and_whitespace() -> None:
    assert question_key("What is <code>eBPF</code>?") == question_key("What  is `eBPF`?") == "What is eBPF?"


# Problems, each at its exact line.


def test_unclosed_details_does_not_swallow_the_next_card() -> None:
    text = "# B\n## Chapter 1/1\n<details>\n<summary>Broken?</summary>\n\n> A\n\n" + CARD.format(
        question="Fine?", answer="> B"
    )
    result = extract(text, "notes.md")
    assert [(d.code, d.loc.line) for d in result.diagnostics] == [("AG101", 3)]
    assert result.book is not None
    assert [c.question for s in result.book.sections for c in s.cards] == ["Fine?"]
    assert str(result.diagnostics[0]) == "notes.md:3:1: error AG101 <details> is never closed"


def test_details_without_summary() -> None:
    assert codes("<details>\n\n> A\n</details>\n") == [("AG102", 1, Severity.ERROR), ("AG110", 1, Severity.WARNING)]


def test_empty_question() -> None:
    assert ("AG103", 2, Severity.ERROR) in codes(
        "# B\n<details>\n<summary> <code></code> </summary>\n\n> A\n</details>\n"
    )


def test_empty_answer_is_an_error_and_the_card_is_kept() -> None:
    text = "# B\n" + CARD.format(question="A statement.", answer="")
    assert codes(text) == [("AG104", 2, Severity.ERROR)]
    assert len(cards_of(text)) == 1


def test_unclosed_fence_reported_at_its_line_and_closed_before_the_footer() -> None:
    text = (
        "# B\n"
        + CARD.format(question="Q?", answer="> text\n>\n> ```cpp\n> int x;\n\n> Origin: 15.2.2")
        + CARD.format(question="Next?", answer="> B")
    )
    assert codes(text) == [("AG105", 7, Severity.ERROR)]
    cards = cards_of(text)
    assert [c.question for c in cards] == ["Q?", "Next?"]
    assert cards[0].answer == "text\n\n```cpp\nint x;\n```"
    assert cards[0].resources == ("Origin: 15.2.2",)


def test_fence_left_open_before_next_card_is_reported_and_next_card_survives() -> None:
    text = "# B\n<details>\n<summary>Q?</summary>\n\n> ```c\n> int x;\n\n" + CARD.format(question="Next?", answer="> B")
    found = codes(text)
    assert ("AG105", 5, Severity.ERROR) in found and ("AG101", 2, Severity.ERROR) in found
    assert [c.question for c in cards_of(text)] == ["Next?"]


def test_stray_closing_tag() -> None:
    assert codes("# B\n</details>\n") == [("AG111", 1, Severity.NOTICE), ("AG106", 2, Severity.WARNING)]


def test_duplicate_question_names_both_lines() -> None:
    text = "# B\n" + CARD.format(question="Same?", answer="> A") + "\n" + CARD.format(question="Same?", answer="> B")
    result = extract(text, "notes.md")
    assert [(d.code, d.loc.line) for d in result.diagnostics] == [("AG107", 8)]
    assert "notes.md:2" in result.diagnostics[0].message
    assert len(cards_of(text)) == 2


def test_file_with_no_cards_is_a_notice() -> None:
    assert codes("# Book\n## Chapter 1/2\n") == [("AG111", 1, Severity.NOTICE)]


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        (b"# Book\n\x00\x01binary", "not a text file", 1),
        (b"# Book\nline two\ncaf\xe9\n", "not UTF-8", 3),
        (b"   \n\n", "the file is empty", 1),
    ],
)
def test_unreadable_files(tmp_path: Path, data: bytes, message: str, line: int) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(data)
    with pytest.raises(ReadError) as caught:
        read_notes(path, "bad.md")
    assert message in caught.value.message
    assert caught.value.loc is not None and (caught.value.loc.path, caught.value.loc.line) == ("bad.md", line)
