"""A big book is spread over the workers by runs of chapters: the packages, the manifest and what
is reported are exactly those of one job, each finding reported once, and identity stays book-wide."""

from __future__ import annotations

import sys
from pathlib import Path

from ankigen import build as pipeline
from ankigen import codes

from .conftest import REPO, TIMESTAMP

sys.path.insert(0, str(REPO / "benchmarks"))
import generate

FLAWS = """
## Appendix

<details>
<summary>How does the <code>buffer</code> container work in case 0?</summary>

The same question as the first card, in the last chapter.
</details>

<details>
<summary>What does the diagram show?</summary>

<img src="missing.png" alt="gone">
</details>

## Empty

"""


def _book(folder: Path) -> Path:
    [path] = generate.write_ankigen(generate.cards(900), folder, per_book=900)
    path.write_text(path.read_text(encoding="utf-8") + FLAWS, encoding="utf-8")
    return path


def _build(notes: Path, out: Path, cache: Path, jobs: int) -> pipeline.BuildResult:
    return pipeline.build([notes], out, jobs=jobs, timestamp=TIMESTAMP, cache_dir=cache)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if not path.name.startswith(".")}


def test_a_book_built_by_two_workers_is_the_book_built_by_one(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    _book(notes)
    one = _build(notes, tmp_path / "one", tmp_path / "cache-one", jobs=1)
    two = _build(notes, tmp_path / "two", tmp_path / "cache-two", jobs=2)
    assert sorted(p.name for p in (tmp_path / "cache-two").rglob("*of2.renders")) != []  # it was split
    assert one.cards == two.cards == 902
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert one.diagnostics == two.diagnostics
    found = [d.code for d in two.diagnostics]
    assert found.count(codes.DUPLICATE_QUESTION) == 1
    assert found.count(codes.MISSING_IMAGE) == 1
    assert found.count(codes.EMPTY_SECTIONS) == 1
    # Cached, the book is built by one process again, from the shares' caches, kept as one file.
    cached = tmp_path / "cache-two"
    shares = {path.name: path.read_text(encoding="utf-8") for path in cached.rglob("*of2.renders")}
    for name, text in shares.items():  # a render served from a share's cache shows
        (next(cached.rglob(name))).write_text(text.replace("in case 0?", "in case 0 (cached)?"), encoding="utf-8")
    warm = _build(notes, tmp_path / "two", cached, jobs=2)
    assert warm.diagnostics == one.diagnostics
    assert list(cached.rglob("*of2.renders")) == []
    [whole] = list(cached.rglob("*.renders"))
    assert "in case 0 (cached)?" in whole.read_text(encoding="utf-8")
