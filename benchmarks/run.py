"""ankigen's benchmark: every figure and ratio measured in one run, side by side.

    python benchmarks/run.py                  # 3,000 cards, 3 runs each, ankdown if installed
    python benchmarks/run.py --scaling        # and 1k / 10k / 30k / 100k cards, cold and warm (slow)
    python benchmarks/run.py --single-file    # every card in one notes file (one book), not six
    python benchmarks/run.py --all            # both shapes and the scaling: every target, one run

Each measurement is a whole process (as a user runs it), repeated; the table shows medians. Peak
memory is the largest summed RSS of the process and its workers, sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

PYTHON = sys.executable
ANKIGEN = [PYTHON, "-m", "ankigen"]


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Run:
    seconds: float
    peak: int
    code: int


def run(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode not in (0, 1):
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{err.decode()[-2000:]}")
    return Run(seconds, peak, process.returncode)


@dataclass
class Row:
    name: str
    runs: list[Run]
    cards: int

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def peak_mb(self) -> float:
        return max(r.peak for r in self.runs) / 1e6


def repeat_run(
    name: str, times: int, cards: int, prepare: Callable[[int], None], command: Callable[[int], Sequence[str]],
    env: dict[str, str] | None = None,
) -> Row:  # fmt: skip
    runs = []
    for index in range(times):
        prepare(index)
        runs.append(run(command(index), env=env))
    row = Row(name, runs, cards)
    print(f"  {name}: median {row.median:.3f} s over {times} runs", file=sys.stderr)
    return row


FLOOR = """
import json, sys, genanki
cards = json.load(open(sys.argv[1]))
model = genanki.Model(1607392319, "floor", fields=[{"name": n} for n in ("Q", "A", "R", "F")],
                      templates=[{"name": "Card 1", "qfmt": "{{Q}}", "afmt": "{{A}}{{R}}{{F}}"}])
deck = genanki.Deck(2059400110, "Floor")
for guid, q, a, r, f in cards:
    deck.add_note(genanki.Note(model=model, fields=[q, a, r, f], guid=guid))
genanki.Package(deck).write_to_file(sys.argv[2], timestamp=1767225600)
"""


def prerender(notes: Path, target: Path) -> None:
    """Fields as ankigen renders them, for the genanki-only floor."""
    from ankigen import build

    planned = build.plan([notes])
    rows = [(c.guid, c.question, c.answer, c.resources, c.references) for d in planned.decks for c in d.cards]
    target.write_text(json.dumps(rows))


def edit_one_card(notes: Path, index: int) -> None:
    first = sorted(notes.glob("*.md"))[0]
    text = first.read_text(encoding="utf-8")
    marker = "is loaded into the"
    position = text.index(marker)
    text = text[:position] + f"{marker} edit-{index} " + text[position + len(marker) :]
    first.write_text(text, encoding="utf-8")


def table(rows: list[Row], base: dict[str, Row]) -> str:
    lines = [
        "| measurement | cards | median s | runs | cards/s | peak MB | vs floor | vs ankdown |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floor = base.get("floor")
    ankdown = base.get("ankdown")
    for row in rows:
        vs_floor = f"{row.median / floor.median:.2f}" if floor else "-"
        vs_ankdown = f"{row.median / ankdown.median:.2f}" if ankdown else "-"
        rate = row.cards / row.median if row.cards else 0
        lines.append(
            f"| {row.name} | {row.cards:,} | {row.median:.3f} | {len(row.runs)} | {rate:,.0f} | {row.peak_mb:.0f} | "
            f"{vs_floor} | {vs_ankdown} |"
        )
    return "\n".join(lines)


def remove(*folders: Path) -> Callable[[int], None]:
    """A ``prepare`` step that deletes folders (output, cache) before each run."""

    def prepare(_: int) -> None:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    return prepare


def nothing(_: int) -> None:
    return None


@dataclass
class Book:
    """The measurements of one generated book shape: rows for the table, keyed ones for targets."""

    label: str
    rows: list[Row]
    base: dict[str, Row]
    keyed: dict[str, Row]
    identical: bool


def measure_book(work: Path, cards: int, per_book: int, repeat: int, ankdown: str | None, env: dict[str, str]) -> Book:
    """Floor, ankdown, cold (two jobs and one), no-change and one-edit rebuilds of one book shape."""
    generated = generate.cards(cards)
    notes = work / "notes"
    generate.write_ankigen(generated, notes, per_book=per_book)
    generate.write_ankdown(generated, work / "ankdown", per_book=per_book)
    files = len(list(notes.glob("*.md")))
    label = f"{cards:,} cards in {files} notes file{'s' if files > 1 else ''}"
    print(f"{label}:", file=sys.stderr)
    prerender(notes, work / "prerendered.json")
    (work / "floor.py").write_text(FLOOR)
    rows: list[Row] = []
    base: dict[str, Row] = {}
    keyed: dict[str, Row] = {}

    floor = [PYTHON, str(work / "floor.py"), str(work / "prerendered.json"), str(work / "floor.apkg")]
    base["floor"] = repeat_run("floor: genanki alone, pre-rendered HTML", repeat, cards, nothing, lambda _: floor)
    rows.append(base["floor"])
    if ankdown:
        command = [ankdown, "-r", str(work / "ankdown"), "-p", str(work / "ankdown.apkg"), "--highlight"]
        base["ankdown"] = repeat_run("ankdown --highlight", repeat, cards, nothing, lambda _: command)
        rows.append(base["ankdown"])
    out, cache = work / "out", Path(env["ANKIGEN_CACHE_DIR"])
    build = [*ANKIGEN, "build", str(notes), "-q", "--out", str(out)]
    keyed["cold"] = repeat_run(
        "ankigen cold (no cache, empty output)", repeat, cards, remove(out, cache), lambda _: build, env
    )
    one_job = [*build, "--jobs", "1"]
    keyed["cold1"] = repeat_run("ankigen cold, --jobs 1", repeat, cards, remove(out, cache), lambda _: one_job, env)
    run(build, env=env)
    keyed["nochange"] = repeat_run("ankigen rebuild, nothing changed", repeat, cards, nothing, lambda _: build, env)
    keyed["edit"] = repeat_run(
        "ankigen rebuild, one card edited", repeat, cards, lambda i: edit_one_card(notes, i), lambda _: build, env
    )
    rows.extend(keyed.values())

    # One job or two: the same bytes.
    same_env = {**env, "SOURCE_DATE_EPOCH": "1767225600"}
    for jobs in ("1", "2"):
        target = work / f"jobs{jobs}"
        shutil.rmtree(target, ignore_errors=True)
        run([*ANKIGEN, "build", str(notes), "-q", "--no-cache", "--jobs", jobs, "--out", str(target)], env=same_env)
    one, two = sorted((work / "jobs1").glob("*.apkg")), sorted((work / "jobs2").glob("*.apkg"))
    identical = len(one) == len(two) > 0 and all(
        a.name == b.name and a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True)
    )
    return Book(label, rows, base, keyed, identical)


@dataclass
class Target:
    name: str
    measured: float | None  # None: not measured in this run
    limit: float
    unit: str

    def line(self) -> str:
        if self.measured is None:
            return f"| {self.name} | not measured | {self.limit:g}{self.unit} | - |"
        verdict = "met" if self.measured <= self.limit else "NOT met"
        return f"| {self.name} | {self.measured:.2f}{self.unit} | {self.limit:g}{self.unit} | {verdict} |"


def targets(books: list[Book], scaling: dict[str, Row], start: dict[str, Row]) -> list[Target]:
    """Issue 14's targets, each from measurements of this run."""

    def ratio(book: Book, key: str, base: str) -> float | None:
        return book.keyed[key].median / book.base[base].median if base in book.base else None

    found: list[Target] = []
    for book in books:
        found += [
            Target(f"cold vs ankdown, {book.label}", ratio(book, "cold", "ankdown"), 0.8, "x"),
            Target(f"nothing changed vs the floor, {book.label}", ratio(book, "nochange", "floor"), 1.5, "x"),
            Target(f"one card edited vs the floor, {book.label}", ratio(book, "edit", "floor"), 2.0, "x"),
        ]
    big, warm = scaling.get("cold 100000"), scaling.get("warm 30000")
    found += [
        Target("100,000 cards cold", big.median if big else None, 25, " s"),
        Target("100,000 cards cold, peak memory", big.peak_mb if big else None, 400, " MB"),
        Target("30,000 cards, nothing changed", warm.median if warm else None, 2, " s"),
        Target("ankigen --help", start["--help"].median if "--help" in start else None, 0.15, " s"),
    ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling", action="store_true", help="also build 1k, 10k, 30k and 100k cards, cold and warm")
    parser.add_argument("--single-file", action="store_true", help="one notes file (one book) for all the cards")
    parser.add_argument("--all", action="store_true", help="six files, one file and --scaling: every target, one run")
    parser.add_argument("--ankdown", default=shutil.which("ankdown"), help="ankdown executable (default: on PATH)")
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ankigen-bench-"))
    env = {**os.environ, "ANKIGEN_CACHE_DIR": str(work / "cache"), "NO_COLOR": "1"}
    env.pop("SOURCE_DATE_EPOCH", None)
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}; work folder {work}", file=sys.stderr)
    shapes = [False, True] if args.all else [args.single_file]
    books = [
        measure_book(work / f"book{index}", args.cards, args.cards if single else 500, args.repeat, args.ankdown, env)
        for index, single in enumerate(shapes)
    ]
    start: dict[str, Row] = {}
    for flag in ("--help", "--version"):
        start[flag] = repeat_run(f"ankigen {flag}", args.repeat, 0, nothing, lambda _, f=flag: [*ANKIGEN, f], env)

    scaling: dict[str, Row] = {}
    cache = Path(env["ANKIGEN_CACHE_DIR"])
    if args.scaling or args.all:
        for size in (1_000, 10_000, 30_000, 100_000):
            folder, target = work / f"scale{size}", work / f"scale{size}-out"
            generate.write_ankigen(generate.cards(size), folder)
            command = [*ANKIGEN, "build", str(folder), "-q", "--out", str(target)]
            scaling[f"cold {size}"] = repeat_run(
                f"ankigen cold, {size:,} cards", 1, size, remove(target, cache), lambda _, c=command: c, env
            )
            warm = f"ankigen rebuild, nothing changed, {size:,} cards"
            scaling[f"warm {size}"] = repeat_run(warm, args.repeat, size, nothing, lambda _, c=command: c, env)
            shutil.rmtree(folder)
            shutil.rmtree(target)
    extra: list[Row] = []
    if (args.corpus / "resources").is_dir():
        target = work / "corpus"
        corpus = [
            *ANKIGEN,
            "build",
            str(args.corpus / "resources"),
            "--root",
            str(args.corpus),
            "-q",
            "--out",
            str(target),
        ]
        name = "ankigen cold, shared corpus (1,430 cards)"
        extra.append(repeat_run(name, args.repeat, 1430, remove(target, cache), lambda _: corpus, env))
        extra.append(repeat_run("ankigen rebuild, shared corpus", args.repeat, 1430, nothing, lambda _: corpus, env))

    print(f"{os.cpu_count()} CPUs; medians of {args.repeat} runs (scaling: cold runs once)")
    for book in books:
        print(f"\n{book.label}\n")
        print(table(book.rows, book.base))
        print(f"\n--jobs 1 and --jobs 2 packages byte-identical: {book.identical}")
    print("\nStart-up, scaling and the corpus\n")
    print(table([*start.values(), *scaling.values(), *extra], {}))
    if not args.ankdown:
        print("ankdown not measured (pip install ankdown, or --ankdown PATH)")
    print("\n| target | measured | limit | |\n|---|---:|---:|---|")
    for found in targets(books, scaling, start):
        print(found.line())
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
