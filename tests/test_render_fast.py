"""The fast paths give exactly what the slow ones give: plain paragraphs what Python-Markdown gives,
inert markup what the sanitizer gives; over every card of the seed, the shared corpus, a generated
book and random strings of the pieces that could make a difference. And they are taken where they
should be, or they would only be tested, never used."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from ankigen.extract import read_notes
from ankigen.model import Card
from ankigen.render import convert, list_html, question_html
from ankigen.sanitize import sanitize

from .conftest import REPO, SEED, corpus_or_skip

sys.path.insert(0, str(REPO / "benchmarks"))
import generate


def _cards(paths: list[Path]) -> list[Card]:
    books = [read_notes(path).book for path in paths]
    return [card for book in books if book for section in book.sections for card in section.cards]


def _answers(paths: list[Path]) -> list[str]:
    return [card.answer for card in _cards(paths) if card.answer]


def _fragments(paths: list[Path]) -> list[str]:
    """Every field of every card as rendered, before the sanitizer."""
    fields = []
    for card in _cards(paths):
        fields += [question_html(card.question), convert(card.answer, fast=False)[0] if card.answer else ""]
        fields += [list_html(card.resources, "resources"), list_html(card.references, "references")]
    return [field for field in fields if field]


def _unsanitized(fragments: list[str]) -> list[str]:
    return [text for text in fragments if sanitize(text) != sanitize(text, fast=False)]


def _inert_share(fragments: list[str]) -> float:
    from ankigen import sanitize as module

    return sum(module._inert(text) is not None for text in fragments) / len(fragments)


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
    paths = [SEED, *sorted(corpus_or_skip().rglob("*.md"))]
    answers = _answers(paths)
    assert len(answers) > 1000
    assert _mismatches(answers) == []
    assert _fast_share(answers) > 0.5
    fragments = _fragments(paths)
    assert _unsanitized(fragments) == []
    assert _inert_share(fragments) > 0.5


def test_generated_book_renders_the_same(tmp_path: Path) -> None:
    paths = generate.write_ankigen(generate.cards(300), tmp_path)
    answers = _answers(paths)
    assert _mismatches(answers) == []
    assert _fast_share(answers) == 1.0  # paragraphs, code spans, emphasis, math and fenced code only
    fragments = _fragments(paths)
    assert _unsanitized(fragments) == []
    assert _inert_share(fragments) > 0.7  # all but the answers with code blocks (Pygments' <span class>)


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


# Pieces of HTML near the edge of what the sanitizer leaves as it is.
MARKUP = [
    "word", " ", "x y", '"', "'", "<", ">", "&", "&lt;", "&gt;", "&amp;", "&quot;", "\xa0", "\r", "\t", "\n",
    "\x01", "é", "<code>", "</code>", "<b>", "</b>", "<i>", "</i>", "<em>", "</em>", "<strong>", "</strong>",
    "<li>", "</li>", '<ul class="resources">', '<ul class="references">', "</ul>", "<ul>",
    '<a href="https://x.org/a_b/1">', "</a>", '<a href="javascript:x">', '<a href="http://x">', "<p>", "</p>",
    "<script>", "<br>", "<code >",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(2))
def test_random_markup_is_sanitized_the_same(seed: int) -> None:
    rng = random.Random(seed)
    fragments = ["".join(rng.choice(MARKUP) for _ in range(rng.randint(1, 10))) for _ in range(20000)]
    assert _unsanitized(fragments) == []
    assert _inert_share(fragments) > 0.02  # several hundred of them
