"""Python-Markdown taught GitHub's block rules: the converter ``render.convert`` hands an answer to
when the fast path cannot take it (lists, tables, quotes, headings, links, the author's HTML).
Loaded on the first such card: a build whose answers are all plain paragraphs never loads
Python-Markdown, nor the pymdownx extensions. Fenced blocks arrive already rendered, as marker
lines (``render._take_blocks``)."""

from __future__ import annotations

import re
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

from ankigen.render import _GITHUB_MATH, _MARKER


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


def to_html(source: str, blocks: list[str]) -> str:
    """Block Markdown whose fenced blocks are marker lines -> HTML, the blocks put back in place."""
    converter = _converter()
    assert _BLOCKS.stash is not None
    _BLOCKS.stash.blocks = blocks
    return converter.reset().convert(source)
