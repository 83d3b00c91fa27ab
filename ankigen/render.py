"""Card -> HTML fields: Python-Markdown for the answer, Pygments (CSS classes) for code, MathJax
delimiters for math. Pure: no I/O; image sources are rewritten through a mapping given by the caller.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from functools import lru_cache

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


@lru_cache(maxsize=1024)
def highlight_code(code: str, lang: str) -> str:
    """A code block as ``<div class="highlight lang-X"><pre>…</pre></div>``, text exact. Cached:
    notes repeat the same block (a command, a snippet) across cards, and lexing is the slow part."""
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


_QUOTE_PREFIX = re.compile(r"^(?: {0,3}> ?)+")
# Fenced blocks are taken out before Python-Markdown runs (it expands tabs and strips control
# characters from its whole input) and left as marker lines no text can hold by chance.
_MARKER = f"ankigen-block-{secrets.token_hex(8)}-"
_GITHUB_MATH = re.compile(r"\$`([^`\n]+)`\$")  # GitHub's inline math, $`…`$


def _take_blocks(text: str) -> tuple[str, list[str]]:
    """Render each fenced block (highlighted code, or display math) and put a marker line in its
    place, so code reaches the card exactly: ``<``, ``&``, ``$``, tabs, ``#`` lines."""
    lines = text.split("\n")
    out: list[str] = []
    blocks: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "``" not in line and "~~" not in line:  # no fence can open here (as fence_open knows)
            out.append(line)
            index += 1
            continue
        quote = _QUOTE_PREFIX.match(line)
        prefix = quote.group(0) if quote else ""  # a fence inside a block quote: ``> ```sh``
        fence = fence_open(line[len(prefix) :])
        if fence is None:
            out.append(line)
            index += 1
            continue
        inner = re.compile(rf"^(?: {{0,3}}> ?){{{prefix.count('>')}}}")
        body: list[str] = []
        index += 1
        while index < len(lines) and (quoted := inner.match(lines[index])):
            line = lines[index][quoted.end() :]
            if fence.closed_by(line):
                index += 1  # the closing fence
                break
            strip = min(fence.indent, len(line) - len(line.lstrip(" \t")))
            body.append(line[strip:])
            index += 1
        code = "\n".join(body) + "\n" if body else ""
        if not code.strip():  # a placeholder left empty: no empty box (the extractor warns)
            out.append("")
            continue
        blocks.append(math_block(code) if fence.lang == "math" else highlight_code(code, fence.lang))
        out.append(f"{prefix}{' ' * fence.indent}{_MARKER}{len(blocks) - 1}")  # _GithubLists adds blank lines
    return "\n".join(out), blocks


# Markdown text that can carry the author's own HTML, entities or link targets into the output;
# without any of these, Python-Markdown and Pygments produce only their own, safe markup.
_AUTHOR_MARKUP = re.compile(r"[<&]|\]\s*[(:]|script:|data:", re.IGNORECASE)


def convert(text: str, *, fast: bool = True) -> tuple[str, bool]:
    """Block Markdown -> HTML, with our fences, tables, math and autolinks; and whether the text
    outside code blocks holds markup of the author's that must go through the sanitizer. ``fast``
    lets plain paragraphs skip Python-Markdown (the same HTML, as tests check, in a fifth of the time)."""
    source, blocks = _take_blocks(text) if "\n" in text else (text, [])
    authored = bool(_AUTHOR_MARKUP.search(source))
    if fast and not authored and (plain := plain_paragraphs(source, blocks)) is not None:
        return plain, False
    from ankigen.markdown_github import to_html  # Python-Markdown loads for the first card that needs it

    return to_html(source, blocks), authored


# The fast path: most answers are paragraphs of text with code spans, emphasis and ``$math$``,
# between fenced blocks. Anything else (a character that could start other Markdown, a line that
# could start a block) is left to Python-Markdown; tests compare both on every answer they have.
_PLAIN_FIRST = re.compile(r"(?:[^\W\d_]|[`(\"']|\*(?=[^\s*])|\$(?!\$))")
_PLAIN_CODE = re.compile(r"(?<!`)`([^`\s](?:[^`\n]*[^`\s])?)`(?!`)")
_PLAIN_MATH = re.compile(r"\$(?!\s)((?:\\[^\n`]|[^\\$\n`])+?)(?<!\s)\$")
_PLAIN_STRONG = re.compile(r"(?<!\*)\*\*([^*\s](?:[^*]*[^*\s])?)\*\*(?!\*)")
_PLAIN_EM = re.compile(r"(?<!\*)\*([^*\s](?:[^*]*[^*\s])?)\*(?!\*)")
_NOT_PLAIN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\\\[\]<&_~|@*$`]|://|www\.|ftp\.", re.IGNORECASE)
_BLOCK_MARKER = re.compile(rf"{_MARKER}(\d+)")


def plain_paragraphs(source: str, blocks: list[str]) -> str | None:
    """What Python-Markdown makes of ``source`` (fenced blocks already marked), when it is only
    plain paragraphs and marker lines; None for anything else."""
    parts: list[str] = []
    paragraph: list[str] = []
    for line in [*source.split("\n"), ""]:
        marker = _BLOCK_MARKER.fullmatch(line)
        if marker or not line.strip():
            if paragraph:
                parts.append(f"<p>{chr(10).join(paragraph)}</p>")
                paragraph = []
            if marker:
                parts.append(blocks[int(marker.group(1))])
            continue
        if not _PLAIN_FIRST.match(line) or line[-1].isspace() or "\t" in line:
            return None
        if "`" not in line and "$" not in line:  # the common line: no code span, no math
            text = _plain_text(line)
            if text is None:
                return None
            paragraph.append(text)
            continue
        if _GITHUB_MATH.search(line):
            return None
        pieces = _PLAIN_CODE.split(line)
        for index, piece in enumerate(pieces):
            if index % 2:
                pieces[index] = f"<code>{piece.replace('>', '&gt;')}</code>"
                continue
            maths = _PLAIN_MATH.split(piece) if "$" in piece else [piece]
            for inner, text in enumerate(maths):
                if inner % 2:
                    maths[inner] = f'<span class="arithmatex">\\({text.replace(">", "&gt;")}\\)</span>'
                    continue
                plain = _plain_text(text)
                if plain is None:
                    return None
                maths[inner] = plain
            pieces[index] = "".join(maths)
        paragraph.append("".join(pieces))
    return "\n".join(parts).strip() if parts else None


def _plain_text(text: str) -> str | None:
    """Text between code spans and math, with its ``**strong**`` and ``*emphasis*``, as HTML; None
    if it holds anything else Markdown would read."""
    if "*" not in text:
        return None if _NOT_PLAIN.search(text) else text.replace(">", "&gt;")
    if _NOT_PLAIN.search(_PLAIN_EM.sub(r"\1", _PLAIN_STRONG.sub(r"\1", text))):
        return None
    text = text.replace(">", "&gt;")
    return _PLAIN_EM.sub(r"<em>\1</em>", _PLAIN_STRONG.sub(r"<strong>\1</strong>", text))


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


_MATH_SPAN = re.compile(r'(<span class="arithmatex">.*?</span>)')


def _question_inline(text: str) -> str:
    if "$" not in text and "*" not in text:  # most questions: nothing to mark up here
        return text
    text = _DISPLAY_MATH.sub(
        lambda m: f'<span class="arithmatex">\\[{_tex(unwrap_equation(m.group("tex")))}\\]</span>', text
    )
    parts = _MATH_SPAN.split(text)
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
        segment = _GITHUB_MATH.sub(lambda m: f'<span class="arithmatex">\\({_tex(m.group(1))}\\)</span>', parts[index])
        segment = _BACKTICKS.sub(lambda m: f"<code>{html.escape(m.group(2).strip(), quote=False)}</code>", segment)
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
