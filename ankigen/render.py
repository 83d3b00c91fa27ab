"""Card -> HTML fields: Python-Markdown for the answer, Pygments (CSS classes) for code, MathJax
delimiters for math. Pure: no I/O; image sources are rewritten through a mapping given by the caller.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element, SubElement

import markdown
from markdown.blockprocessors import BlockQuoteProcessor
from markdown.extensions import Extension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.inlinepatterns import (
    IMAGE_LINK_RE,
    LINK_RE,
    ImageInlineProcessor,
    InlineProcessor,
    LinkInlineProcessor,
    SimpleTagInlineProcessor,
)
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString
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


class _StashBlocks(Preprocessor):
    """Swaps marker lines for Python-Markdown stash placeholders (raw HTML kept as it is)."""

    blocks: list[str] = []  # noqa: RUF012 (set per conversion by markdown_html)

    def run(self, lines: list[str]) -> list[str]:
        if not self.blocks:
            return lines
        out = []
        for line in lines:
            stripped = line.lstrip(" >")
            if stripped.startswith(_MARKER):
                line = line[: len(line) - len(stripped)] + self.md.htmlStash.store(
                    self.blocks[int(stripped[len(_MARKER) :])]
                )
            out.append(line)
        return out


_ITEM = re.compile(r"^(?P<indent> *)(?P<marker>[-*+]|(?P<number>\d{1,9})[.)])(?P<space> *)(?P<rest>.*)$")
# Raw HTML that shows nothing and that Python-Markdown takes for a block (never wraps in <p>).
_NOTHING = "<!-- -->"
# End the first line of each list item: _ListSpacing takes them out, and the item's <p> (tight)
# or puts its text in one (loose), whatever Python-Markdown made of the blank lines.
_TIGHT = f"{_MARKER}tight"
_LOOSE = f"{_MARKER}loose"
_STASHED = "\x02wzxhzdk:"  # how Python-Markdown's placeholders for stashed HTML start
_HTML_LINE = re.compile(
    r"^(?:<(?P<open>[A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>|</(?P<close>[A-Za-z][A-Za-z0-9-]*)\s*>)\s*$"
)
# GitHub's (CommonMark's) HTML blocks of kind 6: a line opening or closing one of these tags starts
# raw HTML up to the next blank line; the Markdown after that blank line is Markdown again.
_KIND_6 = frozenset(
    {
        "address", "article", "aside", "base", "basefont", "blockquote", "body", "caption", "center", "col",
        "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr",
        "html", "iframe", "legend", "li", "link", "main", "menu", "menuitem", "nav", "noframes", "ol",
        "optgroup", "option", "p", "param", "search", "section", "summary", "table", "tbody", "td", "tfoot",
        "th", "thead", "title", "tr", "track", "ul",
    }
)  # fmt: skip
_HTML_START = re.compile(r"^</?(?P<name>[A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)")
# Left to Python-Markdown, which reads them as GitHub does (up to their closing tag).
_NOT_KIND_7 = _KIND_6 | {"script", "style", "pre", "textarea"}
_SETEXT = re.compile(r"^(?:=+|-+) *$")
_NOT_ATX = re.compile(r"^#(?!#{0,5}(?:[ \t]|$))")  # Python-Markdown takes ``#tag`` for a heading
_ITEM_PREFIX = re.compile(r"^ *(?:\d{1,9}\.|[-*+]) ")
_INDENT = re.compile(r"^ *")
_THEMATIC = re.compile(r"^ *([-*_])(?: *\1){2,} *$")
_HEADING_OR_RULE = re.compile(r"^ {0,3}(?:#{1,6}(?: |$)|([-*_])(?: *\1){2,} *$)")
_NEW_BLOCK = re.compile(rf"{_HEADING_OR_RULE.pattern}|^ {{0,3}}(?:>|\$\$)")
_TABLE_DELIMITER = re.compile(r"^ *\|? *:?-+:? *(?:\| *:?-+:? *)*\|? *$")


@dataclass
class _OpenItem:
    column: int  # where the item's content starts in the source
    out: int  # where it starts in the rewritten text
    marker: str  # ``-``, ``*``, ``+``, ``.`` or ``)``: another one starts another list
    list_id: int


@dataclass
class _ListLine:
    text: str
    list_id: int = -1  # the list this line starts an item of
    first: bool = False  # the list's first item


class _GithubLists(Preprocessor):
    """Rewrites lists as GitHub (CommonMark) reads them into the form Python-Markdown reads the same
    way: an item's content sits where its marker ends (``- `` nests at 2 spaces, ``1. `` at 3) and
    is re-indented to Python-Markdown's 4 per level; a line too shallow for an item closes it
    (unless it lazily continues a paragraph); an empty item (a lone ``-``) stays an item, never a
    setext underline; a list is loose (each item a paragraph) when a blank line separates two of
    its items or two blocks of one item, tight otherwise; ``$$`` display math gets blank lines so
    it is a block even right under a paragraph line."""

    def run(self, lines: list[str]) -> list[str]:
        rewritten, loose = self._rewrite(lines)
        out: list[str] = []
        for line in rewritten:
            if line.list_id in loose and not line.first and out and out[-1].strip():
                out.append("")
            if line.list_id < 0:
                out.append(line.text)
            else:
                out.append(f"{line.text} {_LOOSE if line.list_id in loose else _TIGHT}")
        return out

    def _item(self, line: str, stack: list[_OpenItem], depth: int, paragraph: int | None) -> re.Match[str] | None:
        """The list item this line starts, if it starts one in the container at ``depth``."""
        match = _ITEM.match(line)
        if not match or _THEMATIC.match(line):
            return None
        base = stack[depth - 1].column if depth else 0
        if len(match.group("indent")) - base > 3 or (match.group("rest") and not match.group("space")):
            return None
        marker = match.group("marker")[-1]
        continues = depth < len(stack) and stack[depth].marker == marker
        if paragraph == depth and not continues:
            # A new list may interrupt a paragraph only with an item that has text, numbered 1.
            number = match.group("number")
            if not match.group("rest") or (number is not None and int(number) != 1):
                return None
        return match

    def _rewrite(self, lines: list[str]) -> tuple[list[_ListLine], set[int]]:
        out: list[_ListLine] = []
        stack: list[_OpenItem] = []
        loose: set[int] = set()
        lists = 0
        blank = False
        paragraph: int | None = None  # the depth of the paragraph the last line belongs to
        math_open = quote = table = after_stash = False
        opened = 0  # where the paragraph the last line belongs to starts in ``out``
        html: list[str] = []  # the lines of an HTML block (GitHub's kind 7) being read
        for line in [*lines, ""]:
            if html:
                if line.strip():
                    html.append(line.strip())
                    continue
                self.md.htmlStash.rawHtmlBlocks[self.md.htmlStash.html_counter - 1] = "\n".join(html)
                html = []
            if not line.strip():
                out.append(_ListLine(""))
                blank, paragraph, quote, table = True, None, False, False
                continue
            indent = len(line) - len(line.lstrip(" "))
            depth = next((i for i, item in enumerate(stack) if indent < item.column), len(stack))
            item = None if math_open else self._item(line, stack, depth, paragraph)
            stripped = line.lstrip(" ")
            stashed = stripped.startswith(_STASHED)
            container = stack[depth - 1].column if depth else 0
            # Indented code (4 spaces past its container, not under a paragraph) is left as it is.
            code = paragraph is None and indent - container >= 4 and not math_open and not stashed
            start = None if math_open or code else _HTML_START.match(stripped)
            tag = start.group("name").lower() if start else ""
            # A line of one inline tag (an <img>) opens a raw HTML block up to the next blank line
            # too, unless it would interrupt a paragraph of its own container.
            kind_7 = bool(_HTML_LINE.match(stripped)) and (paragraph is None or depth < paragraph)
            html_block = bool(tag) and (tag in _KIND_6 or (tag not in _NOT_KIND_7 and kind_7))
            starts_block = bool(item or (not code and _NEW_BLOCK.match(stripped)) or stashed or html_block)
            if (starts_block and (table or (quote and not stripped.startswith(">")))) or after_stash:
                # A block right under a quote or a table ends it, as on GitHub; a stashed block
                # (a code block) stands apart from what comes next.
                if out[-1].text.strip():
                    out.append(_ListLine(""))
                quote = table = False
            quoted = quote and stripped.startswith(">")
            quote = stripped.startswith(">") or (quote and not starts_block)
            after_stash = stashed
            if item is not None:
                marker = item.group("marker")
                continues = depth < len(stack) and stack[depth].marker == marker[-1]
                list_id = stack[depth].list_id if continues else lists
                lists += not continues
                if continues and blank:
                    loose.add(list_id)
                elif blank and depth:  # a list after a blank line in an item: two blocks of the item
                    loose.add(stack[depth - 1].list_id)
                base = stack[depth - 1].out if depth else 0
                if not continues and depth < len(stack):
                    # Another marker starts another list; Python-Markdown would go on with the
                    # last one, unless something stands between them.
                    separator = " " * base + self.md.htmlStash.store(_NOTHING)
                    out.extend([_ListLine(""), _ListLine(separator), _ListLine("")])
                elif not continues and paragraph == 0 == depth:
                    out.append(_ListLine(""))  # Python-Markdown needs a blank line above a list
                del stack[depth:]
                space, rest = item.group("space"), item.group("rest")
                column = len(item.group("indent")) + len(marker) + (len(space) if 0 < len(space) <= 4 else 1)
                text = rest if len(space) <= 4 else " " * (len(space) - 1) + rest
                number = item.group("number")
                shown = f"{number}." if number is not None else marker
                content = text or self.md.htmlStash.store(_NOTHING)  # a lone ``-`` is an empty item
                content = "\\" + content if _NOT_ATX.match(content) else content
                out.append(_ListLine(f"{' ' * base}{shown} {content}", list_id, not continues))
                stack.append(_OpenItem(column, base + 4, marker[-1], list_id))
                paragraph = len(stack) if rest.strip() else None
                opened = len(out) - 1
                blank = False
                continue
            if paragraph == depth and not blank and not code and _SETEXT.match(stripped):
                # A setext underline makes the whole paragraph a heading; Python-Markdown takes only
                # the line above it (and none as an item's first line): written as one ATX line.
                first = out[opened]
                prefix = (_ITEM_PREFIX if first.list_id >= 0 else _INDENT).match(first.text).group(0)  # type: ignore[union-attr]
                words = " ".join(
                    [first.text[len(prefix) :].strip(), *(line.text.strip() for line in out[opened + 1 :])]
                )
                level = "#" if stripped.startswith("=") else "##"
                out[opened:] = [_ListLine(f"{prefix}{level} {words}", first.list_id, first.first)]
                paragraph = None
                continue
            lazy = not blank and paragraph is not None and not math_open and not starts_block
            if depth < len(stack) and lazy:
                depth = len(stack)
                indent = stack[-1].column
            elif not table and not quote and "|" in line and _TABLE_DELIMITER.match(line):  # never lazily
                table = True
                if len(out) > 1 and out[-2].text.strip():
                    out.insert(len(out) - 1, _ListLine(""))  # the header row ends a paragraph above it
            if depth < len(stack):
                if not blank and out and out[-1].text.strip():
                    out.append(_ListLine(""))
                del stack[depth:]
            elif (depth or stashed) and starts_block and not quoted and out and out[-1].text.strip():
                out.append(_ListLine(""))  # a block right under an item's text: inside the item
            if blank and stack and depth == len(stack):
                loose.add(stack[-1].list_id)
            elif blank and depth:
                loose.add(stack[depth - 1].list_id)
            # Python-Markdown wants blocks at their container's edge; only code keeps its indent.
            shift = (stack[-1].out if stack else 0) + (indent - container if code else 0)
            if code:
                out.append(_ListLine(" " * shift + stripped))
            elif html_block:  # the leading comment tells Python-Markdown not to wrap the block in <p>
                if out and out[-1].text.strip():
                    out.append(_ListLine(""))
                out.append(_ListLine(" " * shift + self.md.htmlStash.store("")))
                html = [_NOTHING, stripped.strip()]
                after_stash = True
            elif stripped.startswith("$$") and not math_open:
                math_open = not (len(stripped.rstrip()) > 2 and stripped.rstrip().endswith("$$"))
                if out and out[-1].text.strip():
                    out.append(_ListLine(""))
                out.append(_ListLine(" " * shift + stripped))
                if not math_open:
                    out.append(_ListLine(""))
                paragraph = None
            elif math_open:
                out.append(_ListLine(" " * shift + stripped))
                math_open = not stripped.rstrip().endswith("$$")
                if not math_open:
                    out.append(_ListLine(""))
            else:
                looks = _ITEM.match(stripped)
                if looks and (looks.group("space") or not looks.group("rest")) and not _THEMATIC.match(stripped):
                    end = looks.end("marker") - 1  # text that only looks like an item: escape its marker
                    stripped = f"{stripped[:end]}\\{stripped[end:]}"
                elif quote and "|" in stripped and _TABLE_DELIMITER.match(stripped):
                    stripped = "\\" + stripped  # a lazy line of a quote: text, never a table
                elif _NOT_ATX.match(stripped):
                    stripped = "\\" + stripped  # ``#include`` or ``#tag``: text, as on GitHub
                elif quote and _SETEXT.match(stripped) and stripped.startswith("="):
                    stripped = "&#61;" + stripped[1:]  # nor a setext underline
                out.append(_ListLine(" " * shift + stripped))
                if paragraph is None:
                    opened = len(out) - 1
                paragraph = None if quote or table or stashed or _HEADING_OR_RULE.match(stripped) else len(stack)
            blank = False
        out.pop()  # the blank line added to close an HTML block at the end
        return out, loose


class _ListSpacing(Treeprocessor):
    """The items of a tight list hold no ``<p>``, even around a paragraph that a code block, a quote
    or a heading follows (Python-Markdown wraps those, as blank lines had to be put around them);
    the text of a loose list's item is always a paragraph."""

    def run(self, root: Element) -> None:
        for item in root.iter("li"):
            if _take_marker(item, _TIGHT):
                for child in [child for child in item if child.tag == "p"]:
                    _unwrap(item, child)
            elif _take_marker(item, _LOOSE):
                _wrap_text(item)


def _take_marker(element: Element, marker: str) -> bool:
    """Remove the marker from the element's own text (not from nested lists)."""
    if element.text and marker in element.text:
        element.text = element.text.replace(f" {marker}", "").replace(marker, "")
        return True
    for child in element:
        if child.tail and marker in child.tail:
            child.tail = child.tail.replace(f" {marker}", "").replace(marker, "")
            return True
        if child.tag not in ("ul", "ol") and _take_marker(child, marker):
            return True
    return False


_BLOCK_CHILDREN = frozenset(
    {"p", "ul", "ol", "div", "pre", "blockquote", "table", "hr", "h1", "h2", "h3", "h4", "h5", "h6"}
)


def _wrap_text(item: Element) -> None:
    """Put the item's leading text and inline elements into a ``<p>``."""
    inline = []
    for child in item:
        if child.tag in _BLOCK_CHILDREN:
            break
        inline.append(child)
    text = item.text or ""
    if not text.strip() and not inline:
        return
    paragraph = Element("p")
    paragraph.text, item.text = text.strip("\n"), None
    for child in inline:
        item.remove(child)
        paragraph.append(child)
    if inline and inline[-1].tail:
        inline[-1].tail = inline[-1].tail.rstrip("\n")
    item.insert(0, paragraph)


def _unwrap(parent: Element, child: Element) -> None:
    """Replace ``child`` by its text and children."""
    index = list(parent).index(child)
    before = parent[index - 1] if index else None
    text = child.text or ""
    if before is None:
        parent.text = (parent.text or "") + text
    else:
        before.tail = (before.tail or "") + text
    grandchildren = list(child)
    parent.remove(child)
    for offset, grandchild in enumerate(grandchildren):
        parent.insert(index + offset, grandchild)
    last = grandchildren[-1] if grandchildren else before
    if last is None:
        parent.text = (parent.text or "") + (child.tail or "")
    else:
        last.tail = (last.tail or "") + (child.tail or "")


class _SeparateQuotes(BlockQuoteProcessor):
    """Two block quotes with a blank line between them stay two quotes, as on GitHub."""

    def run(self, parent: Element, blocks: list[str]) -> None:
        block = blocks.pop(0)
        match = self.RE.search(block)
        if match is None:
            return
        self.parser.parseBlocks(parent, [block[: match.start()]])
        quote = SubElement(parent, "blockquote")
        self.parser.state.set("blockquote")
        lines = [self.clean(line) for line in block[match.start() :].split("\n")]
        self.parser.parseChunk(quote, "\n".join(_GithubLists(self.parser.md).run(lines)))
        self.parser.state.reset()


class _GithubLink(LinkInlineProcessor):
    """A link's target has no spaces unless it is written ``<…>``: ``[a](b c)`` is text, as on GitHub."""

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:  # noqa: N802
        href, title, end, handled = super().getLink(data, index)
        if handled and any(c.isspace() for c in href) and not data[index:].lstrip("( \t\n").startswith("<"):
            return href, title, end, False
        return href, title, end, handled


class _GithubImage(_GithubLink, ImageInlineProcessor):
    """The same rule for images."""


_SINGLE_TILDE = r"(?<!~)(~)(?![~\s])([^~]+?)(?<!\s)~(?!~)"
_GITHUB_MATH = re.compile(r"\$`([^`\n]+)`\$")  # GitHub's inline math, $`…`$


class _GithubMath(InlineProcessor):
    """GitHub's inline math ``$`…`$`` as MathJax inline math (not a code span between dollars)."""

    def handleMatch(  # type: ignore[override]  # noqa: N802 (Markdown's API, typed so in its stubs)
        self, m: re.Match[str], data: str
    ) -> tuple[Element, int, int]:
        span = Element("span", {"class": "arithmatex"})
        span.text = AtomicString(f"\\({m.group(1)}\\)")
        return span, m.start(0), m.end(0)


class _BlocksExtension(Extension):
    def __init__(self) -> None:
        super().__init__()
        self.stash: _StashBlocks | None = None

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        self.stash = _StashBlocks(md)
        # After whitespace normalisation (30), before the raw-HTML pass (20).
        md.preprocessors.register(self.stash, "ankigen_blocks", 28)
        md.preprocessors.register(_GithubLists(md), "ankigen_lists", 27)
        md.treeprocessors.register(_ListSpacing(md), "ankigen_list_spacing", 15)  # after inline Markdown (20)
        md.parser.blockprocessors.register(_SeparateQuotes(md.parser), "quote", 20)
        md.inlinePatterns.register(_GithubLink(LINK_RE, md), "link", 160)
        md.inlinePatterns.register(_GithubImage(IMAGE_LINK_RE, md), "image_link", 150)
        # GitHub strikes ``~one~`` through like ``~~two~~`` (pymdownx.tilde's "delimiter", 60).
        md.inlinePatterns.register(SimpleTagInlineProcessor(_SINGLE_TILDE, "del"), "ankigen_tilde", 59)
        # Before code spans (190), which would take the backticks.
        md.inlinePatterns.register(_GithubMath(_GITHUB_MATH.pattern, md), "ankigen_math", 191)


_BLOCKS = _BlocksExtension()


@lru_cache(maxsize=1)
def _converter() -> markdown.Markdown:
    """The one Python-Markdown converter, made (with its extensions' patterns) on first use: cards
    the fast path renders never need it, nor the pymdownx extensions it loads."""
    from pymdownx.arithmatex import ArithmatexExtension
    from pymdownx.magiclink import MagiclinkExtension
    from pymdownx.tilde import DeleteSubExtension

    # Extensions as objects, not names: a name is looked up among every installed package's entry
    # points, which takes longer than all the rest of making the converter.
    return markdown.Markdown(
        extensions=[
            _BLOCKS,
            TableExtension(),
            SaneListExtension(),
            ArithmatexExtension(generic=True, smart_dollar=True),
            MagiclinkExtension(),
            DeleteSubExtension(subscript=False),
        ],
        output_format="html",
    )


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
    converter = _converter()
    assert _BLOCKS.stash is not None
    _BLOCKS.stash.blocks = blocks
    return converter.reset().convert(source), authored


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
