"""Deterministic benchmark corpora: the same cards as ankigen notes files and as ankdown input.

A third of the cards carry a ~10-line code block, every card inline code, every fifth ``$…$`` math.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from pathlib import Path

WORDS = (
    "kernel program map verifier helper event probe syscall buffer context socket packet filter thread "
    "process memory page cache lock queue scheduler driver device module register stack heap pointer "
    "compiler linker symbol section object library template iterator container allocator reference"
).split()

CODE = {
    "cpp": [
        "#include <vector>",
        "#include <iostream>",
        "",
        "template <typename T>",
        "T sum(std::vector<T> const& values)",
        "{",
        "    T total{};",
        "    for (auto const& v : values) total += v;  // {word}",
        "    return total;",
        "}",
    ],
    "sh": [
        "#!/usr/bin/env bash",
        "set -euo pipefail",
        'for f in "$HOME"/{word}/*.log; do',
        '    grep -c "error" "$f" | tee -a /tmp/{word}.txt',
        "done",
        "sudo bpftool prog list | awk '{print $1}'",
        "echo $((1 + 2)) > /dev/null",
        "ls -la /sys/kernel/debug/tracing",
        "cat /proc/{word}/status",
        "exit 0",
    ],
    "py": [
        "from bcc import BPF",
        "",
        'program = r"""',
        "int {word}(void *ctx) { return 0; }",
        '"""',
        "b = BPF(text=program)",
        'b.attach_kprobe(event=b.get_syscall_fnname("execve"), fn_name="{word}")',
        "while True:",
        "    print(b.trace_fields())",
        "# done",
    ],
}


@dataclass(frozen=True)
class GenCard:
    question: str  # Markdown-ish: backticks for code
    prose: list[str]
    lang: str | None
    code: list[str]
    math: str | None
    resource: str
    reference: str


def make_card(index: int, rng: random.Random) -> GenCard:
    word = rng.choice(WORDS)
    other = rng.choice(WORDS)
    question = f"How does the `{word}` {other} work in case {index}?"
    prose = [
        f"The `{word}_{index}` {other} is loaded into the {rng.choice(WORDS)} and attached to an event.",
        f"Every {rng.choice(WORDS)} goes through the **{other}** before the `{rng.choice(WORDS)}()` call returns.",
        f"See the {rng.choice(WORDS)} for details about *{word}* handling.",
    ]
    lang = None
    code: list[str] = []
    if index % 3 == 0:
        lang = ("cpp", "sh", "py")[index // 3 % 3]
        code = [line.replace("{word}", word) for line in CODE[lang]]
    math = f"$x_{{{index % 7}}}^2 + y_{index % 5}$" if index % 5 == 0 else None
    return GenCard(
        question, prose, lang, code, math, f"{index % 12 + 1}.{index % 4}", f"https://example.org/{word}/{index}"
    )


def cards(count: int, seed: int = 1) -> list[GenCard]:
    rng = random.Random(seed)
    return [make_card(i, rng) for i in range(count)]


def ankigen_card(card: GenCard) -> str:
    lines = [f"> {p}" for p in card.prose]
    if card.math:
        lines += [">", f"> The cost is {card.math} per call."]
    if card.lang:
        lines += [">", f"> ```{card.lang}", *[f"> {c}".rstrip() for c in card.code], "> ``````"]
    question = card.question.replace("`", "<code>", 1).replace("`", "</code>", 1)
    return "\n".join(
        [
            "<details>",
            f"<summary>{question}</summary>",
            "",
            *lines,
            ">",
            "> ---",
            "> **Resources**",
            f"> - {card.resource}",
            "> ---",
            "> **References**",
            f"> - {card.reference}",
            "> ---",
            "</details>",
            "",
        ]
    )


def write_ankigen(all_cards: list[GenCard], out: Path, *, per_book: int = 500, per_chapter: int = 50) -> list[Path]:
    """Notes files of ``per_book`` cards, ``## Chapter N/M`` every ``per_chapter`` cards."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for book, start in enumerate(range(0, len(all_cards), per_book), 1):
        chunk = all_cards[start : start + per_book]
        chapters = (len(chunk) + per_chapter - 1) // per_chapter
        parts = [f"# Benchmark Book {book:03d}", ""]
        for chapter in range(chapters):
            parts.append(f"## Chapter {chapter + 1}/{chapters}\n")
            parts.extend(ankigen_card(c) for c in chunk[chapter * per_chapter : (chapter + 1) * per_chapter])
        path = out / f"book-{book:03d}.md"
        path.write_text("\n".join(parts), encoding="utf-8")
        files.append(path)
    return files


def write_ankdown(all_cards: list[GenCard], out: Path, *, per_book: int = 500) -> list[Path]:
    """The same cards for ankdown: ``---`` between cards, ``%`` between question, answer and tags."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for book, start in enumerate(range(0, len(all_cards), per_book), 1):
        blocks = []
        for card in all_cards[start : start + per_book]:
            answer = "\n\n".join(card.prose)
            if card.math:
                answer += f"\n\nThe cost is {card.math} per call."
            if card.lang:
                answer += "\n\n```" + card.lang + "\n" + "\n".join(card.code) + "\n```"
            answer += f"\n\nResources: {card.resource}\n\nReferences: <{card.reference}>"
            blocks.append(f"{card.question}\n\n%\n\n{answer}\n\n%\n\nbook{book}\n")
        path = out / f"book-{book:03d}.md"
        path.write_text("\n---\n\n".join(blocks), encoding="utf-8")
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cards", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--ankdown", action="store_true", help="write ankdown input instead")
    args = parser.parse_args()
    generated = cards(args.cards)
    files = write_ankdown(generated, args.out) if args.ankdown else write_ankigen(generated, args.out)
    print(f"{len(generated)} cards in {len(files)} files under {args.out}")


if __name__ == "__main__":
    main()
