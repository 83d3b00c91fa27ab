"""ankigen sync's benchmark: the shared corpus synced into a collection of the real Anki backend.

    python benchmarks/sync.py                 # 3 runs each; needs ../shared/corpus and the anki package

Measured as whole processes, like benchmarks/run.py (whose helpers this reuses), medians shown:
a cold sync (a fresh collection, an empty render cache), a sync with nothing changed, and a sync
after one card's answer was edited; a cold build of the same notes is the reference. Backups are on,
as a user runs it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402


def edit_one_answer(book: Path) -> Callable[[int], None]:
    """A ``prepare`` step that changes the first answer line of ``book`` (a new edit each run)."""
    original = book.read_text(encoding="utf-8")
    start = original.index("\n> ", original.index("<summary>"))

    def prepare(index: int) -> None:
        book.write_text(f"{original[: start + 3]}edit-{index} {original[start + 3 :]}", encoding="utf-8")

    return prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    args = parser.parse_args()
    if not (args.corpus / "resources").is_dir():
        raise SystemExit(f"no corpus at {args.corpus} (--corpus DIR)")
    from anki.collection import Collection

    work = Path(tempfile.mkdtemp(prefix="ankigen-sync-bench-"))
    env = {**os.environ, "ANKIGEN_CACHE_DIR": str(work / "cache"), "NO_COLOR": "1"}
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; work folder {work}", file=sys.stderr)
    notes = work / "corpus"
    shutil.copytree(args.corpus, notes)
    books = sorted((notes / "resources").glob("*.md"))
    cards = sum(book.read_text(encoding="utf-8").count("<summary>") for book in books)
    empty = work / "empty.anki2"
    Collection(str(empty)).close()
    profile = work / "profile"
    col = profile / "collection.anki2"
    sync = [*bench.ANKIGEN, "sync", str(notes / "resources"), "--root", str(notes), "-q", "--collection", str(col)]

    def fresh(_: int) -> None:
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(work / "cache", ignore_errors=True)
        profile.mkdir()
        shutil.copyfile(empty, col)

    out = work / "dist"
    build = [*bench.ANKIGEN, "build", str(notes / "resources"), "--root", str(notes), "-q", "--out", str(out)]
    rows = [
        bench.repeat("build, cold (reference)", args.repeat, cards, bench.remove(out, work / "cache"),
                     lambda _: build, env),
        bench.repeat("sync, cold (fresh collection, no cache)", args.repeat, cards, fresh, lambda _: sync, env),
        bench.repeat("sync, nothing changed", args.repeat, cards, bench.nothing, lambda _: sync, env),
        bench.repeat("sync, one card edited", args.repeat, cards, edit_one_answer(books[0]), lambda _: sync, env),
    ]  # fmt: skip
    print(bench.table(rows, {}))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
