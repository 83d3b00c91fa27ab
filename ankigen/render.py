"""Card -> HTML fields: Python-Markdown for the answer, Pygments (CSS classes) for code, MathJax
delimiters for math. Pure: no I/O; image sources are rewritten through a mapping given by the caller.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from functools import lru_cache

import markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.special import TextLexer
from pygments.util import ClassNotFound

from ankigen.fences import fence_open
from ankigen.model import Card, Fields
from ankigen.sanitize import sanitize

# Fence names seen in real notes that are not Pygments lexer names (or name the wrong lexer).
LEXER_ALIASES: Mapping[str, str] = {
    "cp": "cpp",
    "c++": "cpp",
    "conf": "ini",
    "config": "ini",
    "desktop": "ini",
    "dtsi": "devicetree",
    "sudo": "text",
    "sudoers": "text",
    "uml": "text",
    "txt": "text",
    "gdb": "text",
    "passwd": "text",
    "shell": "bash",
    "console": "console",
}

_FORMATTER = HtmlFormatter(cssclass="highlight", nowrap=False)


@lru_cache(maxsize=256)
def lexer_for(lang: str) -> Lexer:
    """The Pygments lexer for a fence's language: alias map first, plain text as a last resort."""
    name = LEXER_ALIASES.get(lang, lang)
    if not name:
        return TextLexer()
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return TextLexer()


def highlight_code(code: str, lang: str) -> str:
    """A code block as ``<div class="highlight lang-X"><pre>…</pre></div>``, text exact."""
    body = highlight(code, lexer_for(lang), _FORMATTER)
    safe = re.sub(r"[^a-z0-9_+-]", "", lang)
    if safe:
        body = body.replace('<div class="highlight">', f'<div class="highlight lang-{safe}">', 1)
    return body


_EQUATION_ENV = re.compile(r"^\s*\\begin\{equation\*?\}(?P<body>.*)\\end\{equation\*?\}\s*$", re.DOTALL)


def math_block(tex: str) -> str:
    """A ```` ```math ```` block as MathJax display math; an outer equation environment is unwrapped
    (MathJax refuses it inside ``\\[…\\]``)."""
    return f'<div class="math">\\[{html.escape(unwrap_equation(tex), quote=False)}\\]</div>'


def unwrap_equation(tex: str) -> str:
    """Drop an outer ``equation`` environment: display math already is one."""
    match = _EQUATION_ENV.match(tex)
    return (match.group("body") if match else tex).strip()


_LIST_START = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_TABLE_ROW = re.compile(r"^ {0,3}\|")


def _starts_block(line: str) -> bool:
    return bool(_LIST_START.match(line) or _TABLE_ROW.match(line))


def _in_block(previous: str) -> bool:
    """Is the line above part of a list, a table or indented content (so no blank line is due)?"""
    return _starts_block(previous) or previous.startswith((" ", "\t"))


# Fenced blocks are taken out before Python-Markdown runs (it expands tabs and strips control
# characters from its whole input) and left as marker lines no text can hold by chance.
_MARKER = f"ankigen-block-{secrets.token_hex(8)}-"


def _take_blocks(text: str) -> tuple[str, list[str]]:
    """Render each fenced block (highlighted code, or display math) and put a marker line in its
    place, so code reaches the card exactly: ``<``, ``&``, ``$``, tabs, ``#`` lines."""
    lines = text.split("\n")
    out: list[str] = []
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = fence_open(line)
        if fence is None:
            # GitHub starts a list or a table right under a paragraph line; Python-Markdown
            # needs a blank line first.
            if out and out[-1].strip() and _starts_block(line) and not _in_block(out[-1]):
                out.append("")
            out.append(line)
            index += 1
            continue
        body: list[str] = []
        index += 1
        while index < len(lines) and not fence.closed_by(lines[index]):
            line = lines[index]
            strip = min(fence.indent, len(line) - len(line.lstrip(" \t")))
            body.append(line[strip:])
            index += 1
        index += 1  # the closing fence
        code = "\n".join(body) + "\n" if body else ""
        blocks.append(math_block(code) if fence.lang == "math" else highlight_code(code, fence.lang))
        out.extend(["", f"{' ' * fence.indent}{_MARKER}{len(blocks) - 1}", ""])
    return "\n".join(out), blocks


class _StashBlocks(Preprocessor):
    """Swaps marker lines for Python-Markdown stash placeholders (raw HTML kept as it is)."""

    blocks: list[str] = []  # noqa: RUF012 (set per conversion by markdown_html)

    def run(self, lines: list[str]) -> list[str]:
        if not self.blocks:
            return lines
        out = []
        for line in lines:
            stripped = line.lstrip()
            if stripped.startswith(_MARKER):
                line = line[: len(line) - len(stripped)] + self.md.htmlStash.store(
                    self.blocks[int(stripped[len(_MARKER) :])]
                )
            out.append(line)
        return out


class _BlocksExtension(Extension):
    def __init__(self) -> None:
        super().__init__()
        self.stash: _StashBlocks | None = None

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        self.stash = _StashBlocks(md)
        # After whitespace normalisation (30), before the raw-HTML pass (20).
        md.preprocessors.register(self.stash, "ankigen_blocks", 28)


_BLOCKS = _BlocksExtension()


def _new_markdown() -> markdown.Markdown:
    return markdown.Markdown(
        extensions=[
            _BLOCKS,
            "tables",
            "sane_lists",
            "pymdownx.arithmatex",
            "pymdownx.magiclink",
            "pymdownx.tilde",
        ],
        extension_configs={
            "pymdownx.arithmatex": {"generic": True, "smart_dollar": True},
            "pymdownx.tilde": {"subscript": False},
        },
        output_format="html",
    )


_MD = _new_markdown()


# Markdown text that can carry the author's own HTML, entities or link targets into the output;
# without any of these, Python-Markdown and Pygments produce only their own, safe markup.
_AUTHOR_MARKUP = re.compile(r"[<&]|\]\s*[(:]|script:|data:", re.IGNORECASE)


def convert(text: str) -> tuple[str, bool]:
    """Block Markdown -> HTML, with our fences, tables, math and autolinks; and whether the text
    outside code blocks holds markup of the author's that must go through the sanitizer."""
    source, blocks = _take_blocks(text) if "\n" in text else (text, [])
    assert _BLOCKS.stash is not None
    _BLOCKS.stash.blocks = blocks
    return _MD.reset().convert(source), bool(_AUTHOR_MARKUP.search(source))


def markdown_html(text: str) -> str:
    """Block Markdown -> HTML, with our fences, tables, math and autolinks."""
    return convert(text)[0]


_PARAGRAPH = re.compile(r"^<p>(.*)</p>$", re.DOTALL)
_PLAIN_INLINE = re.compile(r"[\[\]*_`<>&$~\\!]|https?://|www\.")


_BARE_URL = re.compile(r"https?://[\w.-]+(?:/[\w./%~+-]*)?")


def inline_html(text: str) -> str:
    """One line of inline Markdown (a resource, a reference) -> HTML without the ``<p>``."""
    if not _PLAIN_INLINE.search(text):
        return html.escape(text, quote=False)
    if _BARE_URL.fullmatch(text):
        return f'<a href="{text}">{text}</a>'
    rendered = markdown_html(text)
    match = _PARAGRAPH.match(rendered)
    return match.group(1) if match else rendered


_CODE_SPAN = re.compile(r"(<code\b[^>]*>.*?</code>)", re.IGNORECASE | re.DOTALL)
_BACKTICKS = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(?P<tex>.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$\w])\$(?=\S)(?P<tex>[^$\n]+?)(?<=\S)\$(?![\w$])")
_STRONG = re.compile(r"(?<![\\*])\*\*(?=\S)(?P<text>.+?)(?<=\S)\*\*(?!\*)")
_EMPHASIS = re.compile(r"(?<![\\*\w])\*(?=[^\s*])(?P<text>[^*]+?)(?<=\S)\*(?![*\w])")


def _tex(tex: str) -> str:
    """TeX inside HTML: no tags in it, entities the author wrote stay."""
    return tex.replace("<", "&lt;").replace(">", "&gt;")


def _question_inline(text: str) -> str:
    text = _DISPLAY_MATH.sub(
        lambda m: f'<span class="arithmatex">\\[{_tex(unwrap_equation(m.group("tex")))}\\]</span>', text
    )
    parts = re.split(r'(<span class="arithmatex">.*?</span>)', text)
    for index in range(0, len(parts), 2):
        piece = _INLINE_MATH.sub(
            lambda m: f'<span class="arithmatex">\\({_tex(m.group("tex"))}\\)</span>', parts[index]
        )
        piece = _STRONG.sub(lambda m: f"<b>{m.group('text')}</b>", piece)
        parts[index] = _EMPHASIS.sub(lambda m: f"<i>{m.group('text')}</i>", piece)
    return "".join(parts)


def question_html(question: str) -> str:
    """The ``<summary>`` HTML as a question: inline HTML kept, backticks become ``<code>``,
    ``$…$`` becomes ``\\(…\\)``, ``**bold**`` and ``*italic*`` are marked up; what is inside
    ``<code>`` is left alone."""
    parts = _CODE_SPAN.split(question)
    for index in range(0, len(parts), 2):
        segment = _BACKTICKS.sub(lambda m: f"<code>{html.escape(m.group(2).strip(), quote=False)}</code>", parts[index])
        pieces = _CODE_SPAN.split(segment)
        for inner in range(0, len(pieces), 2):
            pieces[inner] = _question_inline(pieces[inner])
        parts[index] = "".join(pieces)
    return "".join(parts).strip()


def list_html(items: tuple[str, ...], css_class: str) -> str:
    """Footer items (Resources, References) as a list; empty string when there are none."""
    if not items:
        return ""
    lis = "".join(f"<li>{inline_html(item)}</li>" for item in items)
    return f'<ul class="{css_class}">{lis}</ul>'


_IMG_SRC = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*)([\"'])(.*?)\2", re.IGNORECASE | re.DOTALL)


def rewrite_images(fragment: str, media: Mapping[str, str]) -> str:
    """Point each ``<img src>`` that names a packaged file at its media name."""
    if "<img" not in fragment.lower() or not media:
        return fragment

    def swap(match: re.Match[str]) -> str:
        src = html.unescape(match.group(3)).strip()
        name = media.get(src)
        return (
            match.group(0) if name is None else f"{match.group(1)}{match.group(2)}{html.escape(name)}{match.group(2)}"
        )

    return _IMG_SRC.sub(swap, fragment)


def _safe_answer(card: Card, media: Mapping[str, str]) -> tuple[str, bool]:
    if not card.answer:
        return "", False
    rendered, authored = convert(card.answer)
    return sanitize(rewrite_images(rendered, media)) if authored else (rendered, False)


def render_fields(card: Card, media: Mapping[str, str]) -> Fields:
    """Render every field of a card and pass each through the sanitizer."""
    question, unsafe_question = sanitize(rewrite_images(question_html(card.question), media))
    answer, unsafe_answer = _safe_answer(card, media)
    resources, unsafe_resources = sanitize(list_html(card.resources, "resources"))
    references, unsafe_references = sanitize(list_html(card.references, "references"))
    unsafe = unsafe_question or unsafe_answer or unsafe_resources or unsafe_references
    return Fields(question, answer, resources, references, unsafe)
