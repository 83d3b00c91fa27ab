"""The packager: the notetype contract, stable ids, a compressed and well-formed .apkg."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

from ankigen import package
from ankigen.model import DeckSpec, MediaFile, RenderedCard, SourceLoc

from .conftest import TIMESTAMP


def test_notetype_contract_is_pinned() -> None:
    """Anki matches notetypes by id and updates them only if fields and templates keep their names:
    changing any of these makes every user's next import a copy ("ankigen+") instead of an update."""
    model = package.notetype()
    assert package.MODEL_ID == 1894536271
    assert model.model_id == 1894536271
    assert [f["name"] for f in model.fields] == [
        "Question",
        "Answer",
        "Resources",
        "References",
        "Book",
        "Chapter",
        "Source",
    ]
    assert [t["name"] for t in model.templates] == ["Card 1"]


def test_deck_id_is_fixed_by_name() -> None:
    first = package.deck_id("Learning eBPF::Chapter 01")
    assert first == package.deck_id("Learning eBPF::Chapter 01")
    assert first != package.deck_id("Learning eBPF::Chapter 02")
    assert 1 << 31 <= first < 1 << 52


def test_css_has_light_and_night_code_themes() -> None:
    css = package.card_css()
    assert ".highlight .k " in css  # light keywords
    assert ".nightMode .highlight .k" in css and ".night_mode .highlight .k" in css
    assert "overflow-x: auto" in css


def spec(tmp_path: Path, cards: int = 3) -> DeckSpec:
    image = tmp_path / "pic.png"
    image.write_bytes(b"\x89PNG fake")
    rendered = tuple(
        RenderedCard(
            guid=package.guid_for("t", str(i)),
            question=f"Q{i}",
            answer="<p>" + "a long answer " * 200 + "</p>",
            resources="",
            references="",
            source=f"notes.md:{i}",
            loc=SourceLoc("notes.md", i),
        )
        for i in range(cards)
    )
    return DeckSpec(
        "Book::Chapter 01",
        "Book",
        "Chapter 01",
        "desc",
        ("ankigen",),
        rendered,
        (MediaFile("m.png", image),),
        "book-chapter-01.apkg",
    )


def test_apkg_is_deflated_and_well_formed(tmp_path: Path) -> None:
    out = package.write_apkg([spec(tmp_path)], tmp_path / "deck.apkg", timestamp=TIMESTAMP, first_id=1000)
    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["collection.anki2", "media", "0"]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
        collection = infos[0]
        assert collection.compress_size * 5 < collection.file_size
        assert json.loads(archive.read("media")) == {"0": "m.png"}
        (tmp_path / "col.db").write_bytes(archive.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col.db") as db:
        notes = db.execute("select id, mod from notes order by id").fetchall()
    assert [n[1] for n in notes] == [int(TIMESTAMP)] * 3
    assert all(n[0] >= 1000 for n in notes)
    assert list(tmp_path.glob("*.tmp")) == []


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "deck.apkg"
    target.write_bytes(b"previous good build")
    broken = spec(tmp_path)
    broken.media[0].path.unlink()  # reading the media fails mid-write
    try:
        package.write_apkg([broken], target, timestamp=TIMESTAMP, first_id=1000)
    except OSError:
        pass
    else:
        raise AssertionError("the write should have failed")
    assert target.read_bytes() == b"previous good build"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_guids_are_genankis() -> None:
    """ankigen computes GUIDs without loading genanki; they must stay exactly genanki's."""
    import random

    import genanki

    from ankigen.package import guid_for

    rng = random.Random(14)
    alphabet = "ab Ω\x00_`<&\n" + "".join(chr(c) for c in range(0x20, 0x7F))
    for _ in range(3000):
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))) for _ in range(rng.randint(1, 4))]
        assert guid_for(*parts) == genanki.guid_for(*parts), parts
