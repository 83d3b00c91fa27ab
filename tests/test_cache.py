"""The rendered-cards cache file: what is written is read back exactly, and a file that is not
exactly what ankigen writes is ignored as a whole (it costs speed, never a wrong card)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ankigen import build as pipeline
from ankigen import cache
from ankigen.apkginfo import read_package
from ankigen.model import Fields

from .conftest import TIMESTAMP

KEY_A, KEY_B = "0" * 31 + "a", "f" * 32
ENTRIES = {
    KEY_A: Fields("<p>Q?</p>", '<p>an "answer" ünïcode ✓</p>\n<pre>x</pre>', "", "<ul><li>ref</li></ul>", False),
    KEY_B: Fields("", "", "", "", True),
}


def test_rendered_cards_are_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "c" / "file.renders"
    cache._write_renders(path, ENTRIES)
    assert cache._read_renders(path) == ENTRIES
    cache._write_renders(path, {})
    assert cache._read_renders(path) == {}


DAMAGES = 8


def _damaged(text: str) -> list[bytes]:
    """Eight ways a stored file can differ from what ankigen writes (``text``)."""
    head, body = text.split("\n", 1)
    key, flag = body[:32], body.split("\x1e", 1)[0][-2:]
    return [
        text[: len(text) - 3].encode(),  # cut short: the last record loses its flag
        text.replace(flag, "\x1f2", 1).encode(),  # a flag that is neither 0 nor 1
        text.replace(key, "not-a-key", 1).encode(),  # a key that is not one
        text.replace("\x1f", "\x1fextra\x1f", 1).encode(),  # a field too many
        f"{head}x\n{body}".encode(),  # another version's header
        body.encode(),  # no header
        text.encode()[:-1] + b"\xff",  # not UTF-8
        b"",
    ]


def test_a_file_not_exactly_as_written_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "file.renders"
    cache._write_renders(path, ENTRIES)
    text = path.read_text(encoding="utf-8")
    assert len(_damaged(text)) == DAMAGES
    for damaged in _damaged(text):
        path.write_bytes(damaged)
        assert cache._read_renders(path) is None, damaged
    assert cache._read_renders(tmp_path / "missing.renders") is None


def test_fields_holding_the_separators_are_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "file.renders"
    odd = Fields("<p>a\x1fb</p>", "<p>c\x1ed</p>", "", "", False)
    cache._write_renders(path, {**ENTRIES, "1" * 32: odd})
    assert cache._read_renders(path) == ENTRIES


@pytest.mark.parametrize("damage", range(DAMAGES))
def test_a_damaged_cache_never_changes_a_card(tmp_path: Path, damage: int) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    card = "<details>\n<summary>Q{n}?</summary>\n\n> answer {n} with `code`\n</details>\n"
    (notes / "book.md").write_text("# Book\n" + "".join(card.format(n=n) for n in range(3)), encoding="utf-8")
    folder = tmp_path / "cache"

    def answers() -> list[str]:
        result = pipeline.build([notes], tmp_path / "dist", cache_dir=folder, jobs=1, timestamp=TIMESTAMP)
        assert result.committed
        return sorted(dict(n.fields)["Answer"] for n in read_package(tmp_path / "dist" / "book.apkg").notes)

    cold = answers()
    [stored] = folder.rglob("*.renders")
    stored.write_bytes(_damaged(stored.read_text(encoding="utf-8"))[damage])
    assert answers() == cold
    assert cache._read_renders(stored) is not None, "the damaged file was replaced by a good one"
