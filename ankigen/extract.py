"""Notes Markdown -> Book: a line scanner for the structure, BeautifulSoup for the HTML parts.

No HTML is produced here. Every card keeps the line of its ``<details>``; every problem found
becomes a Diagnostic with a ``file:line``. See ``../shared/FORMAT.md`` for the variants handled.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ankigen import codes
from ankigen.errors import ReadError
from ankigen.fences import Fence, fence_open
from ankigen.htmltags import HTML_TAGS
from ankigen.model import Book, Card, Diagnostic, Extracted, ImageRef, Section, Severity, SourceLoc

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_DETAILS_OPEN = re.compile(r"^\s*<details(?:\s[^>]*)?>\s*$", re.IGNORECASE)
_DETAILS_CLOSE = re.compile(r"^\s*</details>\s*$", re.IGNORECASE)
_SUMMARY = re.compile(r"^\s*<summary(?:\s[^>]*)?>(.*?)</summary>\s*$", re.IGNORECASE | re.DOTALL)
_SUMMARY_START = re.compile(r"^\s*<summary(?:\s[^>]*)?>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])(?:\s+(?P<text>.*))?$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_FOOTER_LABEL = re.compile(
    r"^\s*(?:\*\*(?P<b>Resources|References|Origin)\*\*:?|(?P<p>Resources|References|Origin):)"
    r"\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_DESCRIPTION_LABEL = re.compile(r"^\s*\*\*Description\*\*:?\s*$", re.IGNORECASE)
_EXPLICIT_ID = re.compile(r"^\s*<!--\s*id:\s*(?P<id>\S+?)\s*-->\s*$", re.IGNORECASE)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?(?P<src>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
# ``<sup>(published)</sup>``, and the mismatched tags real notes hold: ``<sup>(writing)</span>``,
# ``<sub>(writing)</sub>``, ``<sup>(completed)<sup>``, or no closing tag at all.
_STATUS_SUP = re.compile(r"\s*<su[pb]>\s*\(?(?P<status>[^)<]*?)\)?\s*(?:</?(?:sup|sub|span)>)?\s*$", re.IGNORECASE)
_STATUS_WORDS = "published|writing|completed|complete|edited|incomplete|ignored|draft|reviewed|done|todo"
_STATUS_PLAIN = re.compile(rf"\s+\((?P<status>(?:{_STATUS_WORDS})(?:\s*=>\s*(?:{_STATUS_WORDS}))*)\)\s*$")
_CHAPTER = re.compile(r"^chapter\s+(?P<n>\d+)\s*(?:/\s*(?P<m>\d+))?\s*$", re.IGNORECASE)
_LINK_TITLE = re.compile(r"^\[(?P<text>.+)\]\([^)]*\)$")


def decode(data: bytes, path: Path | str) -> str:
    """Bytes of a notes file -> text with LF line endings, or a ReadError naming the file."""
    if b"\x00" in data:
        raise ReadError("not a text file (it holds NUL bytes)", path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReadError(f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})", path, line) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def dequote(line: str) -> str:
    """Drop one level of ``>`` blockquote marker (``> x``, ``>x``, a bare ``>``)."""
    stripped = line.lstrip(" ")
    if not stripped.startswith(">") or len(line) - len(stripped) > 3:
        return line
    rest = stripped[1:]
    return rest[1:] if rest.startswith((" ", "\t")) else rest


def strip_status(heading: str) -> tuple[str, str | None]:
    """``Chapter 2/11 <sup>(published)</sup>`` -> (``Chapter 2/11``, ``published``)."""
    for pattern in (_STATUS_SUP, _STATUS_PLAIN):
        match = pattern.search(heading)
        if match:
            return heading[: match.start()].strip(), match.group("status").strip() or None
    return heading.strip(), None


def heading_text(heading: str) -> str:
    """A heading's visible text: link text of ``[title](url)``, no tags."""
    text, _ = strip_status(heading)
    match = _LINK_TITLE.match(text)
    if match:
        text = match.group("text")
    if "<" in text or "&" in text:
        from bs4 import BeautifulSoup  # only for the rare title with markup

        text = BeautifulSoup(text, "html.parser").get_text()
    return text.strip()


def image_srcs(line: str) -> Iterator[str]:
    """The image sources named on one line, as HTML ``<img>`` or Markdown ``![](…)``."""
    if "<img" in line.lower():
        from bs4 import BeautifulSoup  # imported on the first image: most notes have none

        for tag in _IMG_TAG.findall(line):
            img = BeautifulSoup(tag, "html.parser").find("img")
            src = img.get("src") if img is not None else None
            if isinstance(src, str) and src.strip():
                yield src.strip()
    if "![" in line:
        for match in _MD_IMAGE.finditer(line):
            yield match.group("src")


@dataclass
class _FooterParse:
    resources: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


# The first non-blank character a line must have to be any of the lines the card scanner looks for
# (the patterns above all start with ``^\s*``, and ``str.lstrip`` strips what ``\s`` matches): one
# set lookup per line spares the regular expressions on the ordinary lines, most of an answer.
_STRUCTURE_HEADS = frozenset("<#")  # </details>, <details>, a heading; <!-- id: -->
_FENCE_HEADS = frozenset("`~")
_RULE_HEADS = frozenset("-*_")
_LABEL_HEADS = frozenset("*RrOo")  # **Resources**, Resources:, Origin: (no other letter folds to r or o)
_ANY_HEADS = _STRUCTURE_HEADS | _FENCE_HEADS | _RULE_HEADS | _LABEL_HEADS
_QUOTE_STARTS = frozenset("> ")  # dequote() leaves any other line as it is


@dataclass(slots=True)
class _Body:
    """What one pass over a card's answer lines finds, so that no later step walks them again.

    ``texts`` are the de-quoted lines (an explicit id line left out); ``label_at``, ``rules`` and
    ``fence_at`` are places in it, not line numbers: the first footer label outside code, the rule
    lines outside code above it, and the opening of ``fence``, a code block still open at the end.
    """

    texts: list[str] = field(default_factory=list)
    label_at: int | None = None
    rules: list[int] = field(default_factory=list)
    fence: Fence | None = None
    fence_at: int = 0
    fence_line: int = 0  # the line of the last fence opened
    explicit_id: str | None = None
    images: list[ImageRef] = field(default_factory=list)
    closed_at: int | None = None  # the line of its </details>, if the card is closed
    end: int = 0  # the line the walk stopped at


def split_footer(body: _Body) -> tuple[list[str], _FooterParse]:
    """Split de-quoted answer lines into the answer proper and its Resources/References footer.

    Python-Markdown would fold ``**Resources**`` and its list into one paragraph, and read
    ``**References**`` above a ``---`` line as a setext heading, so the footer is parsed here.
    The footer starts at the first label outside code; in a card whose code block is never closed
    the footer is still the footer: its first label after the opening fence.
    """
    texts = body.texts
    start = len(texts) if body.label_at is None else body.label_at
    if body.label_at is None and body.fence is not None:
        labels = (i for i in range(body.fence_at + 1, len(texts)) if _FOOTER_LABEL.match(texts[i]))
        start = next(labels, start)
    footer = _FooterParse()
    target: list[str] | None = None
    origin = ""
    for text in texts[start:]:
        name, value = _footer_line(text)
        if name is not None:
            target = footer.references if name == "references" else footer.resources
            origin = "Origin: " if name == "origin" else ""  # a page, a section, a video's 3:25:00
        if value and target is not None:
            target.append(origin + value)
    stop = start  # the answer ends above its last blank and rule lines
    while stop and _blank_or_rule(texts[stop - 1]):
        stop -= 1
    return texts[:stop], footer


@lru_cache(maxsize=4096)
def _footer_line(text: str) -> tuple[str | None, str]:
    """What a footer line holds: a label's name (lower case) and the text after it, or no name and
    a list item's text, or the line's ("" for a blank line or a rule). Footers repeat their lines
    (``---``, ``**Resources**``, ``- 1``) from card to card: each is parsed once."""
    head = text.lstrip()[:1]
    label = _FOOTER_LABEL.match(text) if head in _LABEL_HEADS else None
    if label:
        bold, plain, rest = label.group("b", "p", "rest")
        return (bold or plain).lower(), rest.strip()
    if not head or (head in _RULE_HEADS and _RULE.match(text)):
        return None, ""
    item = _LIST_ITEM.match(text)
    return None, (item.group("text") or "").strip() if item else text.strip()


def _blank_or_rule(text: str) -> bool:
    """A line an answer does not end with: blank, or a ``---`` rule above its footer."""
    head = text.lstrip()[:1]
    return not head or (head in _RULE_HEADS and _RULE.match(text) is not None)


def _answer_markdown(answer: list[str], body: _Body) -> str:
    """Join answer lines; a bare ``---`` under text gets a blank line so it stays a rule.

    ``answer`` is the start of ``body.texts`` (the footer cut off): its rules outside code are
    ``body.rules`` below its length, and a code block open at its end is the body's unclosed one.
    """
    out = answer
    rules = [at for at in body.rules if 0 < at < len(answer) and answer[at - 1].strip()]
    if rules:
        out = []
        done = 0
        for at in rules:
            out += answer[done:at]
            out.append("")
            done = at
        out += answer[done:]
    if body.fence is not None and len(answer) > body.fence_at:
        out.append(body.fence.marker)
    while out and not out[0].strip():
        out.pop(0)
    if out and out[0].lstrip()[:1] == "*" and _DESCRIPTION_LABEL.match(out[0]):
        out.pop(0)
        while out and not out[0].strip():
            out.pop(0)
    return "\n".join(out)


class _Scanner:
    """Walks the lines of one file once; builds sections and cards, collects diagnostics."""

    def __init__(self, text: str, path: str) -> None:
        self.lines = text.split("\n")
        self.path = path
        self.diagnostics: list[Diagnostic] = []

    def loc(self, index: int) -> SourceLoc:
        return SourceLoc(self.path, index + 1)

    def report(self, index: int, code: str, message: str) -> None:
        self.diagnostics.append(codes.diagnostic(code, self.loc(index), message))

    def _is_boundary(self, raw: str) -> bool:
        if raw.startswith("#"):
            return raw.startswith(("## ", "# "))
        return "<" in raw and bool(_DETAILS_OPEN.match(raw))

    def _fence_closes_later(self, start: int, fence: Fence) -> bool:
        """Does a fence open before ``start`` close before the next card or heading?"""
        lines = self.lines
        for index in range(start, len(lines)):  # neither a copy of the rest of the file nor a walk to start
            raw = lines[index]
            if _DETAILS_OPEN.match(raw):
                return False
            if fence.closed_by(dequote(raw)):
                return True
        return False

    def _summary_end(self, start: int) -> int | None:
        """The line that closes the ``<summary>`` opened at ``start``, looked for within its card
        only (never in the next card's ``<summary>``), or None."""
        for index in range(start, len(self.lines)):
            raw = self.lines[index]
            if "</summary>" in raw.lower():
                return index
            if index > start and (self._is_boundary(raw) or _DETAILS_CLOSE.match(raw)):
                return None
        return None

    def _answer(self, start: int) -> _Body:
        """Walk a card's answer lines from ``start`` to its ``</details>`` (``closed_at``), or to
        where the card breaks off (the next card or heading, the end of the file: ``end``).

        This is the hot loop of a build's extraction: one pass does what the footer and the
        answer's Markdown need too, and a line is only tried against the patterns its first
        character allows (the ``_*_HEADS`` sets); most answer lines are tried against none.
        """
        lines = self.lines
        body = _Body(end=len(lines))
        texts = body.texts
        append = texts.append
        rules = body.rules
        label_at: int | None = None
        fence: Fence | None = None
        closer = ""  # the open fence's character
        for index in range(start, len(lines)):
            raw = lines[index]
            if raw[:2] == "> ":  # dequote(), inline for the usual lines; only ">" or " " lines change
                text = raw[2:]
            elif raw == ">":
                text = ""
            else:
                text = dequote(raw) if raw[:1] in _QUOTE_STARTS else raw
            head = text.lstrip()[:1]
            if fence is not None:
                if head == closer and fence.closed_by(text):
                    fence = None
                    if not any(map(str.strip, texts[body.fence_at + 1 :])):
                        self.report(body.fence_line, codes.EMPTY_FENCE, "empty code block: left out of the card")
                elif head == "<" and _DETAILS_CLOSE.match(raw) and not self._fence_closes_later(index + 1, fence):
                    self.report(body.fence_line, codes.UNCLOSED_FENCE, "code fence is never closed")
                    body.closed_at = index
                    body.end = index
                    break
                elif head == "<" and _DETAILS_OPEN.match(raw) and not self._fence_closes_later(index + 1, fence):
                    body.end = index
                    break
                append(text)
                continue
            if head not in _ANY_HEADS:
                pass  # an ordinary line: none of the patterns below can match it
            elif head in _STRUCTURE_HEADS:
                if raw == "</details>" or _DETAILS_CLOSE.match(raw):
                    body.closed_at = index
                    body.end = index
                    break
                if self._is_boundary(raw):
                    body.end = index
                    break
                id_match = _EXPLICIT_ID.match(text) if head == "<" else None
                if id_match:
                    body.explicit_id = id_match.group("id")
                    continue
            elif head in _FENCE_HEADS:
                fence = fence_open(text)
                if fence is not None:
                    closer, body.fence_line, body.fence_at = fence.marker[0], index, len(texts)
                    append(text)
                    continue
            elif label_at is None:  # the answer's end is not known yet: a label, a rule?
                if head in _LABEL_HEADS and _FOOTER_LABEL.match(text):
                    label_at = len(texts)
                elif head in _RULE_HEADS and _RULE.match(text):
                    rules.append(len(texts))
            if "![" in text or ("<" in text and "<img" in text.lower()):
                body.images.extend(ImageRef(src, self.loc(index)) for src in image_srcs(text))
            append(text)
        body.label_at = label_at
        body.fence = fence
        return body

    def card(self, start: int) -> tuple[Card | None, int]:
        """Parse the card whose ``<details>`` is at ``start``; return it and the next line."""
        lines = self.lines
        index = start + 1
        while index < len(lines) and not lines[index].strip():
            index += 1
        question: str | None = None
        summary = lines[index] if index < len(lines) else ""
        opened = None
        if summary.startswith("<summary>") and summary.endswith("</summary>"):  # the usual one-line summary
            question = summary[9:-10].strip()  # what _SUMMARY takes: its one </summary> ends the line
            index += 1
        else:
            opened = _SUMMARY_START.match(summary)
        if opened:
            end = self._summary_end(index)
            match = _SUMMARY.match("\n".join(lines[index : end + 1])) if end is not None else None
            if end is None:  # never closed: the rest of its line is the question, below it the answer
                self.report(index, codes.UNCLOSED_SUMMARY, "<summary> is not closed on its line (no </summary>)")
                question = lines[index][opened.end() :].strip()
                index += 1
            elif match:
                if end > index:
                    message = f"<summary> is not closed on its line (its </summary> is on line {end + 1})"
                    self.report(index, codes.UNCLOSED_SUMMARY, message)
                question = match.group(1).strip()
                index = end + 1
        body = self._answer(index)
        if body.closed_at is None:
            if body.fence is not None:
                self.report(body.fence_line, codes.UNCLOSED_FENCE, "code fence is never closed")
            self.report(start, codes.UNCLOSED_DETAILS, "<details> is never closed")
            return None, body.end
        next_index = body.closed_at + 1
        # Older files list a card's reference links after </details>: they belong to it.
        trailing: list[str] = []
        scan = next_index
        while scan < len(lines):
            raw = lines[scan]
            head = raw.lstrip()[:1]
            if not head:
                scan += 1
                continue
            item = _LIST_ITEM.match(raw) if head in "-*+" or head.isdecimal() else None
            if not item or raw.lstrip().startswith(("---", "***")):
                break
            if (item.group("text") or "").strip():
                trailing.append((item.group("text") or "").strip())
            scan += 1
            next_index = scan
        if question is None:
            self.report(start, codes.NO_SUMMARY, "<details> has no <summary> line")
            return None, next_index
        visible = plain_text(question)
        if not visible:
            self.report(start, codes.EMPTY_QUESTION, "the question (<summary>) is empty")
            return None, next_index
        answer_lines, footer = split_footer(body)
        answer = _answer_markdown(answer_lines, body)
        references = tuple(footer.references + trailing)
        if not answer.strip() and not references and not footer.resources:
            self.report(start, codes.EMPTY_ANSWER, "the answer is empty")
        return (
            Card(
                question=question,
                answer=answer,
                resources=tuple(footer.resources),
                references=references,
                images=tuple(body.images),
                loc=self.loc(start),
                explicit_id=body.explicit_id,
                key=question_key(question) if "`" in question else visible,  # the same, computed once
            ),
            next_index,
        )


_ANY_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9._:-]*)[^<>]*>")
_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "hr", "tr", "td", "th"})


def _tag_text(match: re.Match[str]) -> str:
    name = match.group(1).lower()
    if name in _BLOCK_TAGS:
        return " "
    return "" if name in HTML_TAGS else match.group(0)


def plain_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace folded: HTML tags dropped, entities
    decoded, and anything that only looks like a tag (``vector<int>``) kept as text."""
    if "<" in fragment:
        fragment = _ANY_TAG.sub(_tag_text, fragment)
    if "&" in fragment:
        fragment = html.unescape(fragment)
    return " ".join(fragment.split())


def question_key(question: str) -> str:
    """What identifies a card inside its book: its question's visible text, whitespace folded."""
    return plain_text(question.replace("`", ""))


@dataclass
class _OpenSection:
    name: str
    number: int | None
    total: int | None
    status: str | None
    line: int
    cards: list[Card] = field(default_factory=list)


def extract(text: str, path: Path | str) -> Extracted:
    """Parse one notes file's text into a Book, with every problem found as a Diagnostic."""
    shown = str(path)
    scanner = _Scanner(text, shown)
    del text  # the scanner keeps the lines
    lines = scanner.lines
    title: str | None = None
    cover: ImageRef | None = None
    sections: list[_OpenSection] = []
    preamble: list[Card] = []
    seen_card = False
    index = 0
    while index < len(lines):
        raw = lines[index]
        heading = _HEADING.match(raw) if raw.startswith("#") else None
        if heading:
            level = len(heading.group(1))
            if level == 1 and title is None:
                title = heading_text(heading.group(2)) or None
            elif level == 2:
                name, status = strip_status(heading.group(2))
                chapter = _CHAPTER.match(name)
                number = int(chapter.group("n")) if chapter else None
                total = int(chapter.group("m")) if chapter and chapter.group("m") else None
                sections.append(_OpenSection(heading_text(name), number, total, status, index + 1))
            index += 1
            continue
        if raw == "<details>" or ("<" in raw and _DETAILS_OPEN.match(raw)):
            seen_card = True
            card, index = scanner.card(index)
            if card is not None:
                (sections[-1].cards if sections else preamble).append(card)
            continue
        if "<" in raw and _DETAILS_CLOSE.match(raw):
            scanner.report(index, codes.STRAY_CLOSE, "</details> without a <details> above it")
        elif cover is None and not seen_card and not sections:
            srcs = list(image_srcs(raw))
            if srcs:
                cover = ImageRef(srcs[0], scanner.loc(index))
        index += 1

    if title is None:
        title = Path(shown).stem
        scanner.report(0, codes.NO_TITLE, f"no '# ' title line; using the file name {title!r}")
    built: list[Section] = []
    if preamble:
        built.append(Section(title, None, None, None, SourceLoc(shown, preamble[0].loc.line), tuple(preamble)))
    built.extend(
        Section(s.name, s.number, s.total, s.status, SourceLoc(shown, s.line), tuple(s.cards)) for s in sections
    )
    book = Book(title=title, path=Path(path), cover=cover, sections=tuple(built))
    _report_duplicates(book, scanner)
    if book.card_count == 0 and not any(d.severity is Severity.ERROR for d in scanner.diagnostics):
        scanner.report(0, codes.NO_CARDS, "no cards (<details> blocks) in this file")
    return Extracted(book, tuple(sorted(scanner.diagnostics, key=lambda d: d.loc)))


def _report_duplicates(book: Book, scanner: _Scanner) -> None:
    first: dict[str, Card] = {}
    for section in book.sections:
        for card in section.cards:
            key = card.explicit_id or card.key
            if key in first:
                other = first[key]
                scanner.diagnostics.append(
                    codes.diagnostic(
                        codes.DUPLICATE_QUESTION, card.loc, f"the same question as {other.loc} (both are kept)"
                    )
                )
            else:
                first[key] = card


def read_bytes(path: Path, shown: str | None = None) -> bytes:
    """A notes file's bytes; unreadable or empty input becomes a ReadError naming the file."""
    name = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}", name) from None
    if data.isspace() or not data:
        raise ReadError("the file is empty", name)
    return data


def read_notes(path: Path, shown: str | None = None) -> Extracted:
    """Read and extract one notes file; unreadable input becomes a ReadError naming the file."""
    name = shown or str(path)
    text = decode(read_bytes(path, name), name)  # a large file: one copy of it in memory, not two
    return extract(text, name)
