"""A generated notes library, kept the way a real one is (see FORMAT.md, "A whole library"): subject
folders with a README index page each, topic notes whose sections repeat a name, books whose titles
slug alike, identical and differing copies of a book, a file that cannot be read, and a few broken
cards. The same seed always writes the same files. Every card written is recorded with its file and
line, so a test can account for each one."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

TOPICS = (
    "cpp", "c", "linux", "docker", "git", "sql", "python", "rust", "networking", "kubernetes", "algorithms", "bash",
)  # fmt: skip
WORDS = ("pointer", "socket", "index", "commit", "layer", "thread", "lock", "queue", "page", "cache", "shell", "tree")


@dataclass(frozen=True)
class Written:
    """A ``<details>`` block the generator wrote: its file, its line, and what it is meant to be."""

    path: Path
    line: int
    question: str
    kind: str  # good, or the mistake: unclosed-summary, unclosed-details, no-summary, empty-answer


@dataclass
class Library:
    root: Path
    cards: list[Written] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    copies: dict[Path, tuple[Path, bool]] = field(default_factory=dict)  # left out -> (kept, same notes)
    unreadable: list[Path] = field(default_factory=list)
    slug_alike: list[str] = field(default_factory=list)  # book titles that slug alike


class _Notes:
    """One notes file being written, line by line."""

    def __init__(self, path: Path, title: str) -> None:
        self.path = path
        self.lines = [f"# {title}", ""]
        self.cards: list[Written] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def card(self, question: str, answer: list[str], kind: str = "good") -> None:
        self.cards.append(Written(self.path, len(self.lines) + 1, question, kind))
        summary = f"<summary>{question}</summary>"
        if kind == "unclosed-summary":
            summary = f"<summary>{question}"
        if kind == "no-summary":
            self.add("<details>")
        else:
            self.add("<details>", summary, "")
        if kind != "empty-answer":
            self.add(*answer, ">", "> ---", "> **Resources**", "> - 1", "> ---", "> **References**", "> ---")
        if kind != "unclosed-details":
            self.add("</details>")
        self.add("")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _answer(rng: random.Random, n: int) -> list[str]:
    lines = [f"> Answer {n}: the {rng.choice(WORDS)} and the {rng.choice(WORDS)}."]
    if rng.random() < 0.25:
        lines += [">", "> ```cpp", f"> int x{n} = {rng.randint(0, 99)};", "> ```"]
    return lines


def _sections(rng: random.Random, notes: _Notes, names: list[str], tag: str, broken: list[str]) -> None:
    for section in names:
        notes.add(f"## {section}", "")
        for _ in range(rng.randint(1, 4)):
            number = len(notes.cards) + 1
            kind = broken.pop() if broken and rng.random() < 0.5 else "good"
            notes.card(f"{tag} question {number} about the {rng.choice(WORDS)}?", _answer(rng, number), kind)


def generate(root: Path, seed: int = 10) -> Library:
    """Write the library under ``root`` (158 files) and return what it holds."""
    rng = random.Random(seed)
    library = Library(root)
    written: list[_Notes] = []
    for index, topic in enumerate(TOPICS):
        folder = root / "subjects" / topic
        readme = _Notes(folder / "README.md", topic.title())
        topic_notes = _Notes(folder / f"{topic}.md", f"{topic.title()} Topics")
        books: list[_Notes] = []
        for number in range(10):
            title = f"{topic.title()} Book {number}"
            books.append(_Notes(folder / "resources" / f"{topic}-book-{number}.md", title))
        if topic == "cpp":
            books.append(_Notes(folder / "resources" / "cpp-primer.md", "C++ Primer"))
            library.slug_alike += ["C++ Primer", "C Primer"]
        if topic == "c":
            books.append(_Notes(folder / "resources" / "c-primer.md", "C Primer"))
        if topic == "docker":
            books.append(_Notes(folder / "resources" / "docker-deep-dive.md", "Docker Deep Dive"))
            books.append(_Notes(folder / "resources" / "docker-deep-dive-2.md", "Docker: Deep Dive"))
            library.slug_alike += ["Docker Deep Dive", "Docker: Deep Dive"]
        # The README: an index page of links and covers, no cards.
        readme.add(*(f'- [{b.lines[0][2:]}](resources/{b.path.name}) <img src="../../covers/{n}.jpg"/>'
                     for n, b in enumerate(books)))  # fmt: skip
        # Topic notes: named sections, one name twice far apart, one chapter written two ways.
        _sections(rng, topic_notes, ["Default Value", "Views", "Sorting", "Default Value"], topic, [])
        topic_notes.add("## Chapter 4/12", "")
        topic_notes.card(f"{topic} chapter four, first?", _answer(rng, 90))
        topic_notes.add("## Chapter 04 <sup>(published)</sup>", "")
        topic_notes.card(f"{topic} chapter four, second?", _answer(rng, 91))
        for number, book in enumerate(books):
            broken = []
            if (index + number) % 7 == 0:
                broken = [["unclosed-summary", "no-summary"], ["unclosed-details"], ["empty-answer"]][index % 3]
            names = [f"Chapter {n}/3" for n in range(1, rng.randint(2, 3) + 1)]
            _sections(rng, book, names, book.lines[0][2:], list(broken))
        written += [readme, topic_notes, *books]
        # Copies of a book, as real repositories hold them: an ISBN-named and a slug-named file.
        if index % 4 == 0:  # the same notes, one saved with a BOM and CRLF
            original = books[1]
            copy = _Notes(folder / "resources" / f"978000000{index:04d}.md", "")
            copy.lines = list(original.lines)
            copy.cards = [Written(copy.path, c.line, c.question, c.kind) for c in original.cards]
            written.append(copy)
            kept, left = sorted([original.path, copy.path], key=lambda p: str(p.resolve()))
            library.copies[left] = (kept, True)
        if index % 4 == 1:  # the slug-named copy is ahead of the ISBN-named one: it is built
            ahead = books[2]
            behind = _Notes(folder / "resources" / f"978100000{index:04d}.md", "")
            behind.lines = ahead.lines[: ahead.cards[-1].line - 1]
            behind.cards = [Written(behind.path, c.line, c.question, c.kind) for c in ahead.cards[:-1]]
            written.append(behind)
            library.copies[behind.path] = (ahead.path, False)
        if index % 4 == 2:  # as many cards, one answer edited: the first path is built
            edited = books[3]
            other = _Notes(folder / "resources" / f"978200000{index:04d}.md", "")
            other.lines = [line.replace("Answer 1:", "Answer one:") for line in edited.lines]
            other.cards = [Written(other.path, c.line, c.question, c.kind) for c in edited.cards]
            written.append(other)
            kept, left = sorted([edited.path, other.path], key=lambda p: str(p.resolve()))
            library.copies[left] = (kept, False)
    for notes in written:
        notes.path.parent.mkdir(parents=True, exist_ok=True)
        text = notes.text()
        data = text.encode("utf-8")
        if notes.path.name.startswith("978000"):
            data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
        if notes.path.name == "git-book-4.md":  # saved in another encoding: the file cannot be read
            data = data.replace(b"Answer 1:", b"Answer \xe9 1:")
            library.unreadable.append(notes.path)
        notes.path.write_bytes(data)
        library.files.append(notes.path)
        library.cards += notes.cards
    return library
