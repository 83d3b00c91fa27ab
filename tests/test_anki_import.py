"""End to end: build, then import into a real Anki collection (the ``anki`` package) and look at the cards."""

from __future__ import annotations

import re
from pathlib import Path

from ankigen import build as pipeline
from ankigen import package
from ankigen.extract import read_notes

from .conftest import SEEDS, TIMESTAMP, AnkiCollection, corpus_or_skip
from .rawcheck import fence_bodies, pre_texts, raw_markdown


def test_seed_imports_into_anki(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    written = pipeline.build([SEEDS], tmp_path / "dist", timestamp=TIMESTAMP).written
    assert sorted(p.name for p in written) == ["learning-ebpf-chapter-01.apkg", "learning-ebpf-chapter-02.apkg"]

    imported = anki_collection.import_packages(written)
    col = imported.col
    assert imported.new == 9
    assert imported.problems() == {}
    names = {d.name for d in col.decks.all_names_and_ids()}  # type: ignore[attr-defined]
    assert {"Learning eBPF::Chapter 01", "Learning eBPF::Chapter 02"} <= names
    assert len(col.find_notes('"deck:Learning eBPF::Chapter 01"')) == 4  # type: ignore[attr-defined]
    assert len(col.find_notes('"deck:Learning eBPF::Chapter 02"')) == 5  # type: ignore[attr-defined]

    note = col.get_note(col.find_notes('"Question:How does*"')[0])  # type: ignore[attr-defined]
    assert note["Question"] == "How does <code>eBPF</code> help us to learn application behavior?"
    assert note["Answer"].startswith("<p>With <code>eBPF</code> we can add instrumentation")
    assert note["Resources"] == '<ul class="resources"><li>1</li></ul>'
    assert note["References"] == ""
    assert note["Book"] == "Learning eBPF"
    assert note["Chapter"] == "Chapter 01"
    assert note["Source"] == "seeds/learning-ebpf.md:6"
    assert set(note.tags) == {"ankigen", "ankigen::learning-ebpf", "ankigen::learning-ebpf::chapter-01"}

    card = col.get_card(col.find_cards('"Question:How does*"')[0])  # type: ignore[attr-defined]
    assert "<code>eBPF</code> help us" in card.question()
    assert '<div class="ag-answer">' in card.answer() and "Chapter 01" in card.answer()

    python_card = col.get_card(col.find_cards('"Question:How to load a simple*"')[0])  # type: ignore[attr-defined]
    answer = python_card.answer()
    assert '<div class="highlight lang-py">' in answer
    assert '<span class="kn">from</span>' in answer
    assert pre_texts(answer)[0].startswith(
        '#!/usr/bin/python3\n\nfrom bcc import BPF\n\nprogram = r"""\nint sample(void *ctx)'
    )

    for card_id in col.find_cards(""):  # type: ignore[attr-defined]
        rendered = col.get_card(card_id)  # type: ignore[attr-defined]
        for side in (rendered.question(), rendered.answer()):
            assert raw_markdown(side) == [], (rendered.note()["Source"], raw_markdown(side))


def test_whole_corpus_imports_with_every_card_and_nothing_raw(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    corpus = corpus_or_skip()
    sources = sorted((corpus / "resources").glob("*.md"))
    details = sum(
        1
        for path in sources
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*<details>\s*$", line)
    )
    assert details == 1430

    built = pipeline.build([corpus / "resources"], tmp_path / "dist", root=corpus, timestamp=TIMESTAMP)
    errors = [str(d) for d in built.diagnostics if d.severity.value == "error"]
    # The corpus's real breaks: a fence opened and never closed, reported at its line, and 23
    # statement cards with no answer; all of those cards are still built.
    broken = pipeline.display_path(corpus / "resources" / "9783967309003.md")
    assert [e for e in errors if "AG105" in e] == [f"{broken}:1431:1: error AG105 code fence is never closed"]
    assert len(errors) == 24 and sum("AG104" in e for e in errors) == 23
    imported = anki_collection.import_packages(built.written)
    assert imported.new == details
    assert imported.problems() == {}

    col = imported.col
    cards_by_source = {}
    for path in sources:
        book = read_notes(path, pipeline.display_path(path)).book
        assert book is not None
        for section in book.sections:
            for card in section.cards:
                cards_by_source[f"{pipeline.display_path(path)}:{card.loc.line}"] = card
    checked_blocks = 0
    for note_id in col.find_notes(""):  # type: ignore[attr-defined]
        note = col.get_note(note_id)  # type: ignore[attr-defined]
        source = cards_by_source[note["Source"]]
        expected = fence_bodies(source.answer)
        # Pygments ends every block with one newline, an empty one too.
        assert [t.rstrip("\n") for t in pre_texts(note["Answer"])] == [t.rstrip("\n") for t in expected], note["Source"]
        checked_blocks += len(expected)
        card = note.cards()[0]
        for side in (card.question(), card.answer()):
            assert raw_markdown(side) == [], (note["Source"], raw_markdown(side))
    assert checked_blocks > 1000

    media = Path(col.media.dir())  # type: ignore[attr-defined]
    covers = [m.name for m in media.iterdir() if m.name.startswith("_ankigen-97")]
    assert covers, "the corpus covers that exist are packaged"


def test_deck_description_names_the_book_and_shows_the_cover(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    notes = tmp_path / "notes"
    (notes / "covers").mkdir(parents=True)
    (notes / "covers" / "book.png").write_bytes(b"\x89PNG cover")
    (notes / "book.md").write_text(
        '# My Book\n<img src="covers/book.png" width="200"/>\n\n## Chapter 3/9\n\n'
        "<details>\n<summary>Q?</summary>\n\n> A\n</details>\n",
        encoding="utf-8",
    )
    planned = pipeline.plan([notes], root=notes)
    assert planned.diagnostics == ()
    [deck] = planned.decks
    [cover] = deck.media
    built = pipeline.build([notes], tmp_path / "dist", root=notes, timestamp=TIMESTAMP)
    col = anki_collection.import_packages(built.written).col
    description = col.decks.by_name("My Book::Chapter 03")["desc"]  # type: ignore[attr-defined]
    assert f'src="{cover.name}"' in description and "<b>My Book</b>" in description and "Chapter 03" in description
    assert (Path(col.media.dir()) / cover.name).read_bytes() == b"\x89PNG cover"  # type: ignore[attr-defined]


def test_control_characters_in_notes_never_split_a_note(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    """Anki separates a note's fields with 0x1f: one pasted into the notes (as copied text can
    carry) must not shift the fields after it. HTML has no use for control characters: they go."""
    notes = tmp_path / "notes"
    notes.mkdir()
    card = (
        "<details>\n<summary>What does \x1fthis\x0b ask?</summary>\n\n"
        "> An answer\x1f with `co\x1ede` and a *stress*\x1f.\n>\n> - a list\x1f item\n>\n"
        "> **Resources**\n> - page\x1f 3\n</details>\n"
    )
    (notes / "book.md").write_text("# Book\n## Chapter 1/1\n" + card, encoding="utf-8")
    result = pipeline.build([notes], tmp_path / "dist", jobs=1)
    col = anki_collection.import_packages(result.written).col
    [note_id] = col.find_notes("")  # type: ignore[attr-defined]
    note = col.get_note(note_id)  # type: ignore[attr-defined]
    assert list(note.keys()) == list(package.FIELD_NAMES)
    assert note["Question"] == "What does this ask?"
    assert "An answer with <code>code</code>" in note["Answer"] and "a list item" in note["Answer"]
    assert "page 3" in note["Resources"] and note["Book"] == "Book" and note["Source"].endswith("book.md:3")
    assert not any(ch in "".join(note.values()) for ch in "\x1e\x1f\x0b")
