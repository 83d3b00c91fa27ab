"""A book as its owner keeps it on GitHub (mismatched status tags, mixed chapter headings, ``::`` in
a heading, two-space nested lists, display math under a line, colour, ``Origin:``, placeholders),
built and imported into a real Anki collection: what Anki shows is what GitHub shows."""

from __future__ import annotations

import re
from pathlib import Path

from ankigen import build as pipeline
from ankigen.decks import section_label
from ankigen.extract import extract

from .conftest import TIMESTAMP, AnkiCollection

CARD = "<details>\n<summary>{question}</summary>\n\n{answer}\n</details>\n"

BOOK = "\n".join(
    [
        "# Modern C++",
        "",
        "## Chapter 4/12 <sup>(writing)</span>",
        CARD.format(
            question="Nested list?",
            answer="> Kinds:\n> - value\n>   - prvalue\n>   - xvalue\n> - reference\n> ---\n> Origin: 3:25:00",
        ),
        "## Chapter 05 <sub>(writing)</sub>",
        CARD.format(question="Display math?", answer="> The sum is\n> $$\\sum_{i=1}^n i$$\n> and so on."),
        "## Chapter 6/12 <sup>(completed)<sup>",
        CARD.format(
            question="Colour?",
            answer='> It is <span style="color:green">green</span>, not '
            '<span style="position:fixed;background:url(https://x.example/t.png)">moved</span>.',
        ),
        "## std::variant <sup>(published)</sup>",
        CARD.format(question="Placeholder?", answer="> Text\n>\n> ```cpp\n> ``````\n>\n> 1. one\n>    - sub"),
    ]
)


def test_chapter_labels_agree_whatever_the_heading_form() -> None:
    book = extract(
        "# B\n## Chapter 4/12 <sup>(writing)</span>\n## Chapter 04\n## Chapter 5\n## Chapter 10/12", "b.md"
    ).book
    assert [section_label(s, book) for s in book.sections] == ["Chapter 04", "Chapter 04", "Chapter 05", "Chapter 10"]


def test_github_notes_in_anki(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    notes = tmp_path / "notes" / "modern-cpp.md"
    notes.parent.mkdir()
    notes.write_text(BOOK, encoding="utf-8")
    planned = pipeline.plan([notes])
    assert [d.deck_name for d in planned.decks] == [
        "Modern C++::Chapter 04",
        "Modern C++::Chapter 05",
        "Modern C++::Chapter 06",
        "Modern C++::std\u2236\u2236variant",  # not a subdeck "std" holding "variant"
    ]
    assert [d.chapter for d in planned.decks][-1] == "std::variant"  # the card's field keeps the text
    fence_line = BOOK.split("\n").index("> ```cpp") + 1
    warnings = [f"{d.loc}: {d.code}" for d in planned.diagnostics]
    assert warnings == [f"{pipeline.display_path(notes)}:{fence_line}: AG130"], warnings  # the empty fence
    written = pipeline.build([notes], tmp_path / "dist", timestamp=TIMESTAMP).written
    col = anki_collection.import_packages(written).col
    assert {name for (name,) in [(d.name,) for d in col.decks.all_names_and_ids()]} >= {  # type: ignore[attr-defined]
        "Modern C++::std\u2236\u2236variant"
    }
    assert not any(d.name.endswith("::variant") for d in col.decks.all_names_and_ids())  # type: ignore[attr-defined]
    answers = {}
    for note_id in col.find_notes(""):  # type: ignore[attr-defined]
        note = col.get_note(note_id)  # type: ignore[attr-defined]
        answers[note["Question"]] = (note, note.cards()[0].answer())
    nested_note, nested = answers["Nested list?"]
    assert re.search(
        r"<li>value\s*<ul>\s*<li>prvalue</li>\s*<li>xvalue</li>\s*</ul>\s*</li>\s*<li>reference</li>", nested
    )
    assert "Origin: 3:25:00" in nested_note["Resources"]
    _, math = answers["Display math?"]
    assert '<p>The sum is</p>\n<div class="arithmatex">\\[\\sum_{i=1}^n i\\]</div>\n<p>and so on.</p>' in math
    assert "$" not in math.split('<div class="ag-answer">', 1)[1]
    _, colour = answers["Colour?"]
    assert '<span style="color:green">green</span>' in colour
    assert "position" not in colour and "x.example" not in colour and "<span>moved</span>" in colour
    _, placeholder = answers["Placeholder?"]
    assert 'class="highlight' not in placeholder  # no empty code box
    assert re.search(r"<ol>\s*<li>one\s*<ul>\s*<li>sub</li>", placeholder)
