"""Rebuilds against the real Anki backend: every edit applied, no duplicates, review history kept;
and byte-reproducible builds with SOURCE_DATE_EPOCH."""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from ankigen import build as pipeline
from ankigen import package
from ankigen.apkginfo import read_package
from ankigen.model import Severity

from .conftest import SEED, TIMESTAMP, AnkiCollection

DAY = 86400


def build(notes: Path, out: Path, timestamp: float | None) -> pipeline.BuildResult:
    """A build as ``ankigen build NOTES --out OUT`` makes it."""
    return pipeline.build([notes], out, timestamp=timestamp)


def note_by_question(col: Any, text: str) -> Any:
    ids = [nid for nid in col.find_notes("") if text in col.get_note(nid)["Question"]]
    assert len(ids) == 1, (text, len(ids))
    return col.get_note(ids[0])


def review(col: Any, count: int) -> dict[int, tuple[int, int, int, int, int]]:
    """Answer ``count`` cards through the scheduler ("Good"); return their scheduling state."""
    col.decks.select(col.decks.id_for_name("Learning eBPF"))
    reviewed = {}
    for _ in range(count):
        card = col.sched.getCard()
        assert card is not None
        col.sched.answerCard(card, 3)
        reviewed[card.id] = ()
    return {cid: state(col, cid) for cid in reviewed}


def state(col: Any, card_id: int) -> tuple[int, int, int, int, int]:
    card = col.get_card(card_id)
    revlog = col.db.scalar("select count() from revlog where cid = ?", card_id)
    return (card.reps, card.ivl, card.due, card.type, revlog)


def swap_blocks(text: str, first: str, second: str) -> str:
    """Swap the two <details> blocks whose questions contain ``first`` and ``second``."""
    blocks = re.findall(r"<details>\n<summary>.*?</details>\n", text, re.S)
    a = next(b for b in blocks if first in b)
    b = next(b for b in blocks if second in b)
    return text.replace(a, "\0A").replace(b, a).replace("\0A", b)


NEW_CARD = """
<details>
<summary>What is a new card?</summary>

> One added after the first import.
</details>
"""


def test_rebuild_after_edits_keeps_progress_and_applies_every_edit(
    tmp_path: Path, anki_collection: AnkiCollection, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    original = notes / "learning-ebpf.md"
    original.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    first = build(notes, tmp_path / "dist", TIMESTAMP)
    col = anki_collection.import_packages(first.written).col
    assert col.note_count() == 9
    before = review(col, 5)
    assert all(s[4] == 1 and s[0] == 1 for s in before.values())
    card_ids = set(col.find_cards(""))

    # Edit the notes the way people do.
    text = original.read_text(encoding="utf-8")
    text = text.replace("With `eBPF` we can add instrumentation", "EDITED: with `eBPF` we can add instrumentation")
    text = text.replace(
        "compromised.\n\n> **Resources**\n> - 1\n", "compromised.\n\n> **Resources**\n> - 1.2 Verifier\n"
    )
    text = text.replace(
        "to handle each event.\n\n> **Resources**\n> - 1\n> ---\n> **References**\n> ---\n",
        "to handle each event.\n\n> **Resources**\n> - 1\n> ---\n> **References**\n> - https://ebpf.io\n> ---\n",
    )
    text = swap_blocks(text, "What capabilities are required", "Where does the <code>eBPF</code> trace printing")
    text = text.replace(
        "<summary>What is an <code>eBPF</code> map?</summary>",
        "<summary>What  is an <code>eBPF</code>\tmap? </summary>",
    )
    text = text.replace("## Chapter 2/11\n", "## Chapter 2/11 <sup>(published)</sup>\n")
    text = text.replace("## Chapter 3/11", NEW_CARD + "\n## Chapter 3/11")
    assert text.count("EDITED") == 1 and "1.2 Verifier" in text and "ebpf.io" in text and "What is a new card?" in text
    # Moved to another folder, renamed, and saved with Windows line endings.
    original.unlink()
    moved = notes / "books" / "ebpf-notes.md"
    moved.parent.mkdir()
    moved.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    # The card style changed too: the notetype's CSS must reach the collection.
    new_css = package.card_css() + "\n/* style v2 */\n"
    monkeypatch.setattr(package, "card_css", lambda theme=None: new_css)
    package.notetype.cache_clear()
    try:
        second = build(notes, tmp_path / "dist", TIMESTAMP + DAY)
    finally:
        package.notetype.cache_clear()

    imported = anki_collection.import_packages(second.written)
    log = imported.logs
    assert sum(len(entry.new) for entry in log) == 1
    assert sum(len(entry.updated) for entry in log) == 9
    assert imported.problems() == {}
    assert col.note_count() == 10
    questions = [col.get_note(nid)["Question"] for nid in col.find_notes("")]
    assert len(set(questions)) == 10

    assert "EDITED: with <code>eBPF</code>" in note_by_question(col, "How does <code>eBPF</code> help")["Answer"]
    assert note_by_question(col, "What does the <code>eBPF</code> verifier?")["Resources"] == (
        '<ul class="resources"><li>1.2 Verifier</li></ul>'
    )
    assert 'href="https://ebpf.io"' in note_by_question(col, "How efficient is loading")["References"]
    renamed = note_by_question(col, "map?")
    assert renamed["Question"] == "What  is an <code>eBPF</code>\tmap?"
    assert renamed["Source"].startswith(f"{pipeline.display_path(moved)}:")
    assert renamed["Chapter"] == "Chapter 02"
    # Every reviewed card is the same card, with the same history and schedule.
    assert card_ids <= set(col.find_cards(""))
    for card_id, was in before.items():
        assert state(col, card_id) == was
    model = col.models.get(package.MODEL_ID)
    assert model["css"].endswith("/* style v2 */\n")
    assert [f["name"] for f in model["flds"]] == list(package.FIELD_NAMES)
    assert [m.name for m in col.models.all_names_and_ids() if m.name.startswith("ankigen")] == ["ankigen"]


def test_question_edit_is_a_new_card_unless_it_has_an_explicit_id(
    tmp_path: Path, anki_collection: AnkiCollection
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    path = notes / "book.md"
    card = "<details>\n<summary>{q}</summary>\n{id}\n> Answer.\n</details>\n"
    path.write_text(
        "# Book\n## Chapter 1/1\n"
        + card.format(q="Plain question?", id="")
        + card.format(q="Kept question?", id="<!-- id: kept -->"),
        encoding="utf-8",
    )
    col = anki_collection.import_packages(build(notes, tmp_path / "dist", TIMESTAMP).written).col
    path.write_text(
        "# Book\n## Chapter 1/1\n"
        + card.format(q="Plain question, reworded?", id="")
        + card.format(q="Kept question, reworded?", id="<!-- id: kept -->"),
        encoding="utf-8",
    )
    written = build(notes, tmp_path / "dist", TIMESTAMP + DAY)
    imported = anki_collection.import_packages(written.written)
    assert sum(len(entry.new) for entry in imported.logs) == 1  # only the reworded plain question
    assert col.note_count() == 3
    assert note_by_question(col, "Kept question, reworded?")
    # The plain question's old card left the notes: reported, with where it was.
    assert [(g.question, g.deck, g.source) for g in written.gone] == [
        ("Plain question?", "Book::Chapter 01", f"{pipeline.display_path(path)}:3")
    ]


def test_same_question_twice_keeps_both_with_stable_guids(tmp_path: Path, anki_collection: AnkiCollection) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    card = "<details>\n<summary>Same?</summary>\n\n> {a}\n</details>\n"
    (notes / "book.md").write_text("# Book\n" + card.format(a="one") + card.format(a="two"), encoding="utf-8")
    planned = pipeline.plan([notes])
    duplicates = [d for d in planned.diagnostics if d.code == "AG107"]
    assert len(duplicates) == 1 and duplicates[0].severity is Severity.WARNING
    assert duplicates[0].loc.line == 7 and "book.md:2" in duplicates[0].message
    guids = [c.guid for c in planned.decks[0].cards]
    assert len(set(guids)) == 2
    assert [c.guid for c in pipeline.plan([notes]).decks[0].cards] == guids
    imported = anki_collection.import_packages(build(notes, tmp_path / "dist", TIMESTAMP).written)
    assert imported.new == 2


def test_stale_packages_removed_and_gone_cards_reported(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    path = notes / "book.md"
    card = "<details>\n<summary>{q}</summary>\n\n> A\n</details>\n"
    path.write_text("# Book\n## Chapter 1/2\n" + card.format(q="One?") + "## Chapter 2/2\n" + card.format(q="Two?"))
    out = tmp_path / "dist"
    first = build(notes, out, TIMESTAMP)
    assert sorted(p.name for p in first.written) == ["book-chapter-01.apkg", "book-chapter-02.apkg"]
    (out / "mine.apkg").write_bytes(b"a user's own file")
    path.write_text("# Book\n## Chapter 1/2\n" + card.format(q="One?") + "## Chapter 2/2\n")
    second = build(notes, out, TIMESTAMP + 1)
    assert [p.name for p in second.removed] == ["book-chapter-02.apkg"]
    assert sorted(p.name for p in out.glob("*.apkg")) == ["book-chapter-01.apkg", "mine.apkg"]
    assert [(g.question, g.deck) for g in second.gone] == [("Two?", "Book::Chapter 02")]


def _book_at_a_stopped_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where a notes file goes (its folder made), with the clock stopped and no SOURCE_DATE_EPOCH."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setattr(pipeline.time, "time", lambda: TIMESTAMP)
    notes = tmp_path / "notes"
    notes.mkdir()
    return notes / "book.md"


def test_rebuild_in_the_same_second_is_still_newer(
    tmp_path: Path, anki_collection: AnkiCollection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SOURCE_DATE_EPOCH every build is stamped later than the last one into that folder,
    so Anki's "update if newer" applies an edit even when the clock has not moved."""
    path = _book_at_a_stopped_clock(tmp_path, monkeypatch)
    notes = path.parent
    card = "<details>\n<summary>Q?</summary>\n\n> {a}\n</details>\n"
    path.write_text("# Book\n" + card.format(a="before"))
    first = build(notes, tmp_path / "dist", None)
    col = anki_collection.import_packages(first.written).col
    path.write_text("# Book\n" + card.format(a="after"))
    second = build(notes, tmp_path / "dist", None)
    assert second.timestamp == first.timestamp + 1
    imported = anki_collection.import_packages(second.written)
    assert sum(len(entry.updated) for entry in imported.logs) == 1
    assert note_by_question(col, "Q?")["Answer"] == "<p>after</p>"


def _folder_state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


def test_a_rebuild_that_changes_nothing_leaves_the_folder_as_it_was(
    tmp_path: Path, anki_collection: AnkiCollection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not one file is written again, the manifest included; and an edit after it, in the same
    second, is still newer than what Anki has."""
    path = _book_at_a_stopped_clock(tmp_path, monkeypatch)
    notes = path.parent
    card = "<details>\n<summary>Q{n}?</summary>\n\n> {a}\n</details>\n"
    chapters = ("## Chapter 1/2\n" + card.format(n=1, a="one"), "## Chapter 2/2\n" + card.format(n=2, a="x"))
    path.write_text("# Book\n" + "".join(chapters))
    out = tmp_path / "dist"
    first = build(notes, out, None)
    col = anki_collection.import_packages(first.written).col
    before = _folder_state(out)
    again = build(notes, out, None)
    assert (again.written, again.removed, again.gone) == ((), (), ())
    assert len(again.unchanged) == 2
    assert _folder_state(out) == before
    path.write_text(path.read_text().replace("> x", "> y"))
    edited = build(notes, out, None)
    assert [p.name for p in edited.written] == ["book-chapter-02.apkg"]
    assert edited.timestamp == first.timestamp + 1
    imported = anki_collection.import_packages(edited.written)
    assert sum(len(entry.updated) for entry in imported.logs) == 1
    assert note_by_question(col, "Q2?")["Answer"] == "<p>y</p>"


def test_source_date_epoch_builds_are_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    notes = tmp_path / "notes"
    (notes / "img").mkdir(parents=True)
    (notes / "img" / "diagram.png").write_bytes(b"\x89PNG not really")
    text = SEED.read_text(encoding="utf-8").replace("> BPF maps\n", '> BPF maps\n>\n> <img src="img/diagram.png"/>\n')
    (notes / "learning-ebpf.md").write_text(text, encoding="utf-8")
    first = build(notes, tmp_path / "a", None)
    second = build(notes, tmp_path / "b", None)
    assert first.timestamp == second.timestamp == 1767225600
    assert len(first.written) == 2
    for a, b in zip(first.written, second.written, strict=True):
        assert a.name == b.name
        assert filecmp.cmp(a, b, shallow=False), a.name
    assert filecmp.cmp(
        tmp_path / "a" / ".ankigen-manifest.json", tmp_path / "b" / ".ankigen-manifest.json", shallow=False
    )


def test_ids_are_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    with pytest.raises(pipeline.UsageError, match="after 1970"):
        pipeline.build_timestamp()


def test_the_cache_is_safe_to_delete_or_damage_and_never_stale(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    path = notes / "book.md"
    card = "<details>\n<summary>Q?</summary>\n\n> {a}\n</details>\n"
    path.write_text("# Book\n" + card.format(a="first `answer`"), encoding="utf-8")
    cache = tmp_path / "cache"

    def answer() -> str:
        result = pipeline.build([notes], tmp_path / "dist", cache_dir=cache, jobs=1, timestamp=TIMESTAMP)
        assert result.committed
        return dict(read_package(tmp_path / "dist" / "book.apkg").notes[0].fields)["Answer"]

    assert answer() == "<p>first <code>answer</code></p>"
    stored_files = [p for p in cache.rglob("*") if p.is_file()]
    assert len(stored_files) == 2  # the extracted book and the rendered cards
    for stored in stored_files:
        stored.write_bytes(b"damaged")
    assert answer() == "<p>first <code>answer</code></p>"
    path.write_text("# Book\n" + card.format(a="second *answer*"), encoding="utf-8")
    assert answer() == "<p>second <em>answer</em></p>"
    shutil.rmtree(cache)
    assert answer() == "<p>second <em>answer</em></p>"
