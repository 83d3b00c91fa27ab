"""ankigen sync against the real Anki backend: a learner's collection kept in step with the notes,
review history, flags and suspensions kept, their own notes never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ankigen import build as pipeline
from ankigen import package
from ankigen.cli import app
from ankigen.sync import IN_USE, RECORDS_KEY

from .conftest import SEED, TIMESTAMP, AnkiCollection, corpus_or_skip
from .test_rebuild import NEW_CARD, review

runner = CliRunner()


def sync(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["sync", *args])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@contextmanager
def opened(path: Path) -> Iterator[Any]:
    from anki.collection import Collection

    col = Collection(str(path))
    try:
        yield col
    finally:
        col.close()


def new_collection(path: Path) -> int:
    """A fresh collection holding one note of the learner's own (the Basic notetype); its id."""
    with opened(path) as col:
        note = col.new_note(col.models.by_name("Basic"))
        note["Front"] = "My own question"
        note["Back"] = "My own answer"
        col.add_note(note, col.decks.id("Mine"))
        return int(note.id)


def note_by_question(col: Any, text: str) -> Any:
    """The one ankigen note whose question holds ``text`` (the learner's own notes have no Question)."""
    ids = [nid for nid in col.find_notes(f"mid:{package.MODEL_ID}") if text in col.get_note(nid)["Question"]]
    assert len(ids) == 1, (text, len(ids))
    return col.get_note(ids[0])


def notes_state(col: Any) -> dict[int, tuple[int, int, str, str]]:
    return {
        nid: (mod, usn, flds, tags)
        for nid, mod, usn, flds, tags in col.db.all("select id, mod, usn, flds, tags from notes")
    }


def history(col: Any) -> tuple[list[Any], dict[int, tuple[Any, ...]]]:
    """Every review, and every card's scheduling (its deck aside): what a sync must keep."""
    revlog = col.db.all("select * from revlog order by id")
    cards = col.db.all("select id, nid, type, queue, due, ivl, factor, reps, lapses, left, odue, flags from cards")
    return revlog, {row[0]: tuple(row[1:]) for row in cards}


def backups(path: Path) -> list[Path]:
    folder = path.parent / "backups"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def block(text: str, question: str) -> str:
    start = text.index(f"<summary>{question}")
    start = text.rindex("<details>", 0, start)
    end = text.index("</details>\n", start) + len("</details>\n")
    return text[start:end]


EDITED = "EDITED: with `eBPF` we can add instrumentation"
MOVED = "How efficient is loading <code>eBPF</code> programs?"
DELETED = "What is the advantage of dynamic loading functionality in <code>eBPF</code>?"


def test_sync_keeps_a_collection_in_step_with_the_notes(tmp_path: Path) -> None:
    col_path = tmp_path / "profile" / "collection.anki2"
    col_path.parent.mkdir()
    mine = new_collection(col_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    book = notes / "learning-ebpf.md"
    book.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    target = ("--collection", str(col_path))

    code, out, err = sync(str(notes), *target)
    assert code == 0, err
    assert "9 added, 0 updated, 0 moved, 0 unchanged, 0 conflicts, 0 to remove" in out
    assert "AnkiWeb" in out and "--split all" in out
    first_backup = backups(col_path)
    assert len(first_backup) == 1 and f"backup: {first_backup[0]}" in err
    first_backup_time = first_backup[0].stat().st_mtime_ns

    with opened(col_path) as col:
        assert col.note_count() == 10
        ours = col.find_notes(f"mid:{package.MODEL_ID}")
        assert len(ours) == 9
        user_note = notes_state(col)[mine]
        review(col, 5)
        flagged = col.get_card(col.find_cards(f'"deck:Learning eBPF::Chapter 01" "Question:{MOVED}"')[0])
        col.set_user_flag_for_cards(3, [flagged.id])
        col.sched.suspend_cards([flagged.id])
        tagged = col.get_note(flagged.nid)
        tagged.add_tag("leech")  # a tag of the learner's (Anki adds this one itself)
        col.update_note(tagged)
        kept_aside = note_by_question(col, "What is an <code>eBPF</code> map?").cards()[0]
        col.set_deck([kept_aside.id], col.decks.id("Mine"))  # a card the learner moved themselves
        before_history = history(col)
        before_notes = notes_state(col)
        moved_card = flagged.id

    text = book.read_text(encoding="utf-8")
    text = text.replace("With `eBPF` we can add instrumentation", EDITED)
    moved_block = block(text, MOVED)
    text = text.replace(block(text, DELETED), "").replace(moved_block, "")
    text = text.replace("## Chapter 3/11", NEW_CARD + "\n" + moved_block + "\n## Chapter 3/11")
    book.write_text(text, encoding="utf-8")

    # --dry-run says what would change and changes nothing.
    code, out, err = sync(str(notes), *target, "--dry-run")
    assert code == 0, err
    assert "Dry run, nothing changed" in out and "1 added" in out and "1 moved" in out and "1 to remove" in out
    assert "What is a new card?" in err and DELETED.replace("<code>", "").replace("</code>", "") in err
    with opened(col_path) as col:
        assert notes_state(col) == before_notes
        assert history(col) == before_history
    assert backups(col_path) == first_backup

    code, out, err = sync(str(notes), *target)
    assert code == 0, err
    assert "1 added" in out and "1 moved" in out and "0 conflicts" in out and "1 to remove" in out
    assert "gone from the notes" in err and "What is the advantage of dynamic loading" in err
    # Anki's own backup, which also thins the folder as Anki desktop does (one a day kept).
    second_backup = backups(col_path)
    assert f"backup: {second_backup[-1]}" in err
    assert second_backup[-1].stat().st_mtime_ns > first_backup_time
    with opened(col_path) as col:
        assert col.note_count() == 11  # the deleted card is still there
        assert "EDITED: with <code>eBPF</code>" in note_by_question(col, "How does <code>eBPF</code> help")["Answer"]
        assert col.decks.name(col.get_card(moved_card).did) == "Learning eBPF::Chapter 02"
        assert note_by_question(col, "How efficient is loading")["Chapter"] == "Chapter 02"
        new = note_by_question(col, "What is a new card?")
        assert new.mid == package.MODEL_ID
        assert col.decks.name(new.cards()[0].did) == "Learning eBPF::Chapter 02"
        note_by_question(col, "What is the advantage of dynamic loading")
        after_revlog, after_cards = history(col)
        assert after_revlog == before_history[0]
        assert {cid: after_cards[cid] for cid in before_history[1]} == before_history[1]
        card = col.get_card(moved_card)
        assert card.user_flag() == 3 and card.queue == -1  # flag and suspension kept
        assert "leech" in card.note().tags and "ankigen::learning-ebpf::chapter-02" in card.note().tags
        assert "ankigen::learning-ebpf::chapter-01" not in card.note().tags
        assert col.decks.name(col.get_card(kept_aside.id).did) == "Mine"
        assert notes_state(col)[mine] == user_note
        kept = notes_state(col)

    # Nothing changed: nothing touched, no backup.
    code, out, err = sync(str(notes), *target)
    assert code == 0, err
    assert "0 added, 0 updated, 0 moved, 9 unchanged, 0 conflicts, 1 to remove" in out
    with opened(col_path) as col:
        assert notes_state(col) == kept
    assert backups(col_path) == second_backup and "backup:" not in err

    # --prune removes exactly the deleted card.
    code, out, err = sync(str(notes), *target, "--prune")
    assert code == 0, err
    assert "1 removed" in out
    with opened(col_path) as col:
        after = notes_state(col)
        gone = set(kept) - set(after)
        assert len(gone) == 1 and DELETED in kept[gone.pop()][2]
        assert {nid: kept[nid] for nid in after} == after
        assert after[mine] == user_note
        _revlog, cards = history(col)
        assert all(cards[cid] == state for cid, state in before_history[1].items() if cid in cards)


def test_a_note_edited_in_anki_is_a_conflict_until_forced(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    book = notes / "learning-ebpf.md"
    book.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    assert sync(str(notes), "--collection", str(col_path))[0] == 0

    with opened(col_path) as col:
        note = note_by_question(col, "What is an <code>eBPF</code> map?")
        note["Answer"] = "My own better answer"
        col.update_note(note)
    book.write_text(book.read_text(encoding="utf-8").replace("With `eBPF` we can add instrumentation", EDITED))

    code, out, err = sync(str(notes), "--collection", str(col_path))
    assert code == 0, err
    assert "1 updated" in out and "1 conflict," in out
    assert "edited in Anki" in err and "What is an eBPF map?" in err
    with opened(col_path) as col:
        assert note_by_question(col, "What is an <code>eBPF</code> map?")["Answer"] == "My own better answer"
        assert "EDITED" in note_by_question(col, "How does <code>eBPF</code> help")["Answer"]

    code, out, err = sync(str(notes), "--collection", str(col_path), "--force")
    assert code == 0, err
    assert "1 updated" in out and "0 conflicts" in out
    with opened(col_path) as col:
        assert "My own better answer" not in note_by_question(col, "What is an <code>eBPF</code> map?")["Answer"]
        assert col.get_config(RECORDS_KEY)  # what ankigen wrote, kept in the collection
    assert "0 updated" in sync(str(notes), "--collection", str(col_path))[1]


def test_a_deck_imported_from_a_package_and_then_synced_is_not_duplicated(tmp_path: Path) -> None:
    built = pipeline.build([SEED], tmp_path / "dist", timestamp=TIMESTAMP)
    col_path = tmp_path / "collection.anki2"
    imported = AnkiCollection(col_path)
    imported.import_packages(built.written)
    before = notes_state(imported.col)
    imported.close()
    code, out, err = sync(str(SEED), "--collection", str(col_path))
    assert code == 0, err
    assert "0 added, 0 updated, 0 moved, 9 unchanged" in out
    with opened(col_path) as col:
        assert notes_state(col) == before
        assert [m.name for m in col.models.all_names_and_ids() if m.name.startswith("ankigen")] == ["ankigen"]


def test_books_not_in_this_sync_and_books_that_fail_to_read_are_never_pruned(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    mine = new_collection(col_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ebpf.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    other = notes / "other.md"
    other.write_text("# Other\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n\n> A\n</details>\n")
    assert sync(str(notes), "--collection", str(col_path))[0] == 0
    with opened(col_path) as col:
        before = notes_state(col)
    assert len(before) == 11

    code, out, _ = sync(str(other), "--collection", str(col_path), "--prune")  # the eBPF book is not in this sync
    assert code == 0 and "0 removed" in out
    other.write_bytes(b"\xff\xfe not UTF-8")  # a book that fails to read
    code, out, err = sync(str(notes), "--collection", str(col_path), "--prune")
    assert code == 1 and "AG001" in err and "0 removed" in out
    # A book with an error (here a card left out by a <details> never closed) is not pruned either.
    ebpf = notes / "ebpf.md"
    text = ebpf.read_text(encoding="utf-8")
    cut = text.index("</details>")
    ebpf.write_text(text[:cut] + text[cut + len("</details>") :], encoding="utf-8")
    code, out, err = sync(str(notes), "--collection", str(col_path), "--prune")
    assert code == 1 and "AG101" in err and "0 removed" in out
    with opened(col_path) as col:
        assert notes_state(col) == before
        assert mine in before


HOLDER = """
import sys
from anki.collection import Collection
col = Collection(sys.argv[1])
print("open", flush=True)
sys.stdin.read()
col.close()
"""


def test_a_collection_in_use_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(col_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        code, _out, err = sync(str(SEED), "--collection", str(col_path))
    finally:
        holder.communicate("", timeout=60)
    assert code == 2
    assert err.strip().splitlines()[-1] == f"error: {IN_USE}"
    assert backups(col_path) == []
    with opened(col_path) as col:
        assert col.note_count() == 1


def test_a_missing_or_damaged_collection_is_one_line_and_created_never(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "collection.anki2"
    code, _, err = sync(str(SEED), "--collection", str(missing))
    assert code == 2 and "no such collection file" in err and not missing.exists()
    damaged = tmp_path / "collection.anki2"
    damaged.write_bytes(b"not a database at all" * 100)
    code, _, err = sync(str(SEED), "--collection", str(damaged))
    assert code == 2 and "not an Anki collection, or damaged" in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_profiles_in_ankis_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "Anki2"
    monkeypatch.setenv("ANKI_BASE", str(base))
    code, _, err = sync(str(SEED))
    assert code == 2 and "no Anki profile" in err
    (base / "addons21").mkdir(parents=True)  # not a profile
    (base / "User 1").mkdir()
    new_collection(base / "User 1" / "collection.anki2")
    code, out, err = sync(str(SEED), "--dry-run")
    assert code == 0, err
    assert "User 1" in out and "9 added" in out
    (base / "Work").mkdir()
    new_collection(base / "Work" / "collection.anki2")
    code, _, err = sync(str(SEED), "--dry-run")
    assert code == 2 and "--profile NAME (User 1, Work)" in err
    code, _, err = sync(str(SEED), "--profile", "Home")
    assert code == 2 and "no Anki profile 'Home'" in err and "User 1, Work" in err
    code, out, err = sync(str(SEED), "--profile", "Work")
    assert code == 0 and "9 added" in out
    (tmp_path / "ankigen.toml").write_text('profile = "User 1"\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = sync(str(SEED), "--dry-run")
    assert code == 0 and "User 1" in out and "9 added" in out


def test_without_the_anki_package_sync_says_how_to_install_it(tmp_path: Path) -> None:
    script = "import sys; sys.modules['anki'] = None; from ankigen.cli import main; sys.argv[0] = 'ankigen'; main()"
    result = subprocess.run(
        [sys.executable, "-c", script, "sync", str(SEED), "--collection", str(tmp_path / "c.anki2")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "error: ankigen sync needs Anki's Python package: pip install 'ankigen[anki]'"


def test_the_whole_corpus_synced_holds_every_card_once(tmp_path: Path) -> None:
    corpus = corpus_or_skip() / "resources"
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    planned = pipeline.plan([corpus])
    code, out, err = sync(str(corpus), "--collection", str(col_path), "--no-backup")
    assert code in (0, 1), err
    assert f"{planned.cards} added" in out
    with opened(col_path) as col:
        guids = col.db.list("select guid from notes where mid = ?", package.MODEL_ID)
        assert sorted(guids) == sorted(c.guid for d in planned.decks for c in d.cards)
        assert len(set(guids)) == len(guids) == planned.cards
        decks = dict(
            col.db.all(
                "select n.guid, c.did from notes n join cards c on c.nid = n.id where n.mid = ?", package.MODEL_ID
            )
        )
        assert {guid: col.decks.name(did) for guid, did in decks.items()} == {
            c.guid: d.deck_name for d in planned.decks for c in d.cards
        }
        before = notes_state(col)
    code, out, err = sync(str(corpus), "--collection", str(col_path), "--no-backup")
    assert f"0 added, 0 updated, 0 moved, {planned.cards} unchanged" in out
    with opened(col_path) as col:
        assert notes_state(col) == before


def test_ctrl_c_leaves_the_collection_as_it_was_or_fully_synced(tmp_path: Path) -> None:
    corpus = corpus_or_skip() / "resources"
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    env = {**os.environ, "ANKIGEN_CACHE_DIR": str(tmp_path / "cold-cache"), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "ankigen", "sync", str(corpus), "--collection", str(col_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        process.stderr.readline()  # the first diagnostic: the build is under way
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    last = err.strip().splitlines()[-1]
    with opened(col_path) as col:
        count = col.note_count()
    if last == "interrupted: nothing changed":
        assert count == 1
    else:
        assert last == "interrupted: the sync was applied in full first"
        assert count == 1 + pipeline.plan([corpus]).cards


def test_images_are_copied_into_the_collections_media_folder(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    notes = tmp_path / "notes"
    (notes / "data").mkdir(parents=True)
    image = notes / "data" / "diagram.png"
    image.write_bytes(b"\x89PNG first")
    book = notes / "book.md"
    book.write_text(
        '# Book\n## Chapter 1/1\n<details>\n<summary>Q?</summary>\n\n> <img src="data/diagram.png"/>\n</details>\n'
    )
    media = tmp_path / "collection.media"

    def synced_image() -> bytes:
        assert sync(str(notes), "--collection", str(col_path), "--root", str(tmp_path))[0] == 0
        with opened(col_path) as col:
            answer = note_by_question(col, "Q?")["Answer"]
        names = [p.name for p in media.iterdir() if p.name in answer]
        assert len(names) == 1, (answer, sorted(media.iterdir()))
        return (media / names[0]).read_bytes()

    assert synced_image() == b"\x89PNG first"  # a new note: through Anki's import
    image.write_bytes(b"\x89PNG second")
    assert synced_image() == b"\x89PNG second"  # an updated note


def test_a_new_card_style_reaches_the_notetype_and_leaves_the_notes_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    assert sync(str(SEED), "--collection", str(col_path))[0] == 0
    with opened(col_path) as col:
        before = notes_state(col)
    new_css = package.card_css() + "\n/* style v2 */\n"
    monkeypatch.setattr(package, "card_css", lambda theme=None: new_css)
    package.notetype.cache_clear()
    try:
        code, out, err = sync(str(SEED), "--collection", str(col_path))
    finally:
        package.notetype.cache_clear()
    assert code == 0 and "0 updated" in out and "notetype's style and templates were updated" in err
    with opened(col_path) as col:
        assert col.models.get(package.MODEL_ID)["css"] == new_css
        assert notes_state(col) == before
    (tmp_path / "ankigen.toml").write_text('collection = "collection.anki2"\n')  # the configuration's key
    monkeypatch.chdir(tmp_path)
    code, out, _ = sync(str(SEED), "--dry-run")
    assert code == 0 and str(col_path) in out and "notetype" not in out


PROBE = """
import sys
from anki.collection import Collection
try:
    Collection(sys.argv[1]).close()
    print("opened")
except Exception as e:
    print(e)
"""


def test_the_collection_stays_locked_after_ankis_backup(tmp_path: Path) -> None:
    """Anki's backup releases the collection's lock (anki 26.9.3): sync takes it back before writing."""
    from ankigen.sync import backup, open_collection

    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    with open_collection(col_path) as col:
        made = backup(col, col_path)
        found = subprocess.run(
            [sys.executable, "-c", PROBE, str(col_path)], capture_output=True, text=True, timeout=120
        )
        assert col.note_count() == 1  # still open here
    assert made is not None and made.parent == tmp_path / "backups"
    assert found.stdout.strip() == "Anki already open, or media currently syncing."


def test_strict_sync_with_warnings_changes_nothing(tmp_path: Path) -> None:
    col_path = tmp_path / "collection.anki2"
    new_collection(col_path)
    code, out, err = sync(str(SEED), "--collection", str(col_path), "--strict")  # the seed's cover is missing
    assert code == 1 and "AG108" in err and "--strict: 1 warning; nothing synced" in err and out == ""
    assert backups(col_path) == []
    with opened(col_path) as col:
        assert col.note_count() == 1
    code, _, err = sync(str(SEED), "--collection", str(col_path), "--profile", "User 1")
    assert code == 2 and "not both" in err
