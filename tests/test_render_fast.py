"""The renderer's fast path for plain paragraphs gives exactly what Python-Markdown gives, over every
answer of the seed, the shared corpus, a generated book and random strings of the characters that
could make a difference; and it is taken where it should be, or it would only be tested, never used."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from ankigen.extract import read_notes
from ankigen.render import convert

from .conftest import REPO, SEED, corpus_or_skip

sys.path.insert(0, str(REPO / "benchmarks"))
import generate


def _answers(paths: list[Path]) -> list[str]:
    books = [read_notes(path).book for path in paths]
    return [card.answer for book in books if book for section in book.sections for card in section.cards if card.answer]


def _mismatches(answers: list[str]) -> list[tuple[str, str, str]]:
    return [(text, fast, full) for text in answers if (fast := convert(text)) != (full := convert(text, fast=False))]


def _fast_share(answers: list[str]) -> float:
    """The share of answers the fast path renders (Python-Markdown wraps every paragraph it makes)."""
    from ankigen import render

    taken = 0
    for text in answers:
        source, blocks = render._take_blocks(text) if "\n" in text else (text, [])
        taken += render.plain_paragraphs(source, blocks) is not None
    return taken / len(answers)


def test_seed_and_corpus_answers_render_the_same() -> None:
    corpus = corpus_or_skip()
    answers = _answers([SEED, *sorted(corpus.rglob("*.md"))])
    assert len(answers) > 1000
    assert _mismatches(answers) == []
    assert _fast_share(answers) > 0.5


def test_generated_book_renders_the_same(tmp_path: Path) -> None:
    answers = _answers(generate.write_ankigen(generate.cards(300), tmp_path))
    assert _mismatches(answers) == []
    assert _fast_share(answers) == 1.0  # paragraphs, code spans, emphasis, math and fenced code only


# Pieces that come near the edge of the fast path: each could start another kind of Markdown.
PIECES = [
    "word", "Wörter", "x", "2", "1.", "1)", "-", "*", "**", "***", "$", "$x_1$", "`c`", "`a>b`", "` s `", "``",
    ">", " ", " ", "  ", "'", '"', "(", ")", "\n", "\n", "\n\n", "\n```py\nx = 1\n```\n", "\n```math\na>b\n```\n",
    "#", "=", "---", "\\", "_", "www.x", "a@b", "http://x", "\t", "\xa0", ":", "!", "{", "^", "+", "$$", "`$x$`",
    "*a*", "**b**", "$a\\$", "~", "$\\frac{a}{b}$", "$a\\$b$", "$\\\\$", "$ x$", "$x $", "**a b**", "* a *",
    "`` a ``", "|", "[a]", "<b>", "&amp;",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_random_near_misses_render_the_same(seed: int) -> None:
    rng = random.Random(seed)
    answers = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14))).strip() for _ in range(4000)]
    answers = [text for text in answers if text]
    assert _mismatches(answers) == []
    assert _fast_share(answers) > 0.03  # a few hundred of them
