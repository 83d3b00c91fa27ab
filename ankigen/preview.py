"""A static HTML site of the rendered cards, made of exactly the HTML, templates and CSS that go
into the decks: an index of books and chapters, a page per chapter with each card's front and back,
and a light/night switch. Plain files: it works from ``file://`` with no server."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ankigen.decks import cards
from ankigen.fsutil import prepare_out_dir, write_atomic
from ankigen.model import DeckSpec, RenderedCard, Theme
from ankigen.package import FIELD_NAMES, card_css, note_fields
from ankigen.sanitize import sanitize_mathml

# Math as the renderer writes it for MathJax: ``\(…\)`` in a span, ``\[…\]`` in a div.
_MATH = re.compile(
    r'(?P<open><(?P<tag>span|div) class="(?:arithmatex|math)">)\s*\\(?P<kind>[(\[])(?P<tex>.*?)\\[)\]]\s*</(?P=tag)>',
    re.DOTALL,
)
_SECTION = re.compile(r"\{\{#(\w+)\}\}(.*?)\{\{/\1\}\}", re.DOTALL)
_FIELD = re.compile(r"\{\{(\w+)\}\}")


def fill(template: str, fields: Mapping[str, str]) -> str:
    """Anki's template language as our templates use it: ``{{#F}}…{{/F}}`` shown when F is not
    empty, ``{{F}}`` replaced by the field's HTML."""
    text = _SECTION.sub(lambda m: m.group(2) if fields.get(m.group(1), "").strip() else "", template)
    return _FIELD.sub(lambda m: fields.get(m.group(1), ""), text)


def mathml(fragment: str) -> str:
    """Each MathJax formula of a field as MathML, which browsers lay out with no script and no
    network (Anki renders the same TeX with its MathJax); TeX that can't be converted stays."""
    if "arithmatex" not in fragment and 'class="math"' not in fragment:
        return fragment
    from latex2mathml.converter import convert

    def swap(match: re.Match[str]) -> str:
        display = "block" if match.group("kind") == "[" else "inline"
        try:
            converted = convert(html.unescape(match.group("tex")), display=display)
        except Exception:  # latex2mathml raises many kinds on TeX it doesn't know
            return match.group(0)
        return f"{match.group('open')}{sanitize_mathml(converted)}</{match.group('tag')}>"

    return _MATH.sub(swap, fragment)


def _theme(name: str) -> str:
    return resources.files("ankigen.theme").joinpath(name).read_text(encoding="utf-8")


def card_sides(card: RenderedCard, spec: DeckSpec) -> tuple[str, str]:
    """A card's front and back HTML, as Anki shows them."""
    fields = dict(zip(FIELD_NAMES, note_fields(card, spec), strict=True))
    fields["Question"], fields["Answer"] = mathml(fields["Question"]), mathml(fields["Answer"])
    front = fill(_theme("front.html"), fields)
    return front, fill(_theme("back.html"), {**fields, "FrontSide": front})


@dataclass(frozen=True, slots=True)
class PreviewSite:
    """What ``write_site`` wrote."""

    index: Path
    pages: tuple[Path, ...]
    media: tuple[Path, ...]


def _page(title: str, body: str, *, depth_css: str = "preview.css") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="card.css">
<link rel="stylesheet" href="{depth_css}">
</head>
<body class="ag-preview">
<header class="ag-bar">
<a class="ag-home" href="index.html">ankigen preview</a>
<button id="ag-mode" type="button" aria-pressed="false">Night mode</button>
</header>
<main>
{body}
</main>
<script src="preview.js"></script>
</body>
</html>
"""


def _page_name(spec: DeckSpec) -> str:
    return spec.filename.removesuffix(".apkg") + ".html"


def chapter_page(spec: DeckSpec) -> str:
    """One deck: its description, then each card's front and back."""
    cards = []
    for number, card in enumerate(spec.cards, 1):
        front, back = card_sides(card, spec)
        cards.append(
            f"""<article class="ag-pair" id="card-{number}">
<p class="ag-pair-title">Card {number} <span class="ag-pair-source">{html.escape(card.source)}</span></p>
<div class="ag-sides">
<section class="ag-side"><h3 class="ag-side-label">Front</h3><div class="card">{front}</div></section>
<section class="ag-side"><h3 class="ag-side-label">Back</h3><div class="card">{back}</div></section>
</div>
</article>"""
        )
    header = (
        f'<h1 class="ag-deck-name">{html.escape(spec.deck_name)}</h1>'
        f'<div class="ag-description card">{spec.description}</div>'
    )
    return _page(spec.deck_name, header + "\n" + "\n".join(cards))


def index_page(decks: Sequence[DeckSpec]) -> str:
    """Books and their chapters, with card counts."""
    books: dict[str, list[DeckSpec]] = {}
    for spec in decks:
        books.setdefault(spec.book, []).append(spec)
    parts = ['<h1 class="ag-deck-name">Decks</h1>']
    for book, specs in books.items():
        total = sum(len(s.cards) for s in specs)
        items = "".join(
            f'<li><a href="{html.escape(_page_name(s))}">{html.escape(s.chapter)}</a>'
            f' <span class="ag-count">{cards(len(s.cards))}</span></li>'
            for s in specs
        )
        parts.append(
            f'<section class="ag-book"><h2>{html.escape(book)} <span class="ag-count">{cards(total)}</span></h2>'
            f"<ul>{items}</ul></section>"
        )
    if not decks:
        parts.append("<p>No cards.</p>")
    return _page("ankigen preview", "\n".join(parts))


def write_site(decks: Sequence[DeckSpec], out_dir: Path, theme: Theme = Theme()) -> PreviewSite:
    """Write the preview site into ``out_dir`` (created when missing)."""
    prepare_out_dir(out_dir)
    write_atomic(out_dir / "card.css", card_css(theme).encode())
    write_atomic(out_dir / "preview.css", _theme("preview.css").encode())
    write_atomic(out_dir / "preview.js", _theme("preview.js").encode())
    pages = []
    media: dict[str, Path] = {}
    for spec in decks:
        page = out_dir / _page_name(spec)
        write_atomic(page, chapter_page(spec).encode())
        pages.append(page)
        for item in spec.media:
            media.setdefault(item.name, item.path)
    copied = []
    for name, source in media.items():
        target = out_dir / name
        if not target.exists():
            shutil.copyfile(source, target)
        copied.append(target)
    index = out_dir / "index.html"
    write_atomic(index, index_page(decks).encode())
    return PreviewSite(index, tuple(pages), tuple(copied))
