"""Checks independent of ankigen's own code: Markdown syntax left raw in rendered HTML, and the
code blocks a card's Markdown holds (a fence scanner of its own, written from CommonMark's rules,
so a bug in ankigen's fence code cannot hide in the test that checks it)."""

from __future__ import annotations

import html
import re

_RAW = {
    "code fence": re.compile(r"```"),
    "bold": re.compile(r"\*\*\S"),
    "link": re.compile(r"\]\([^\s()]+(?:\s+\"[^\"]*\")?\)"),  # a target with spaces is no link on GitHub either
    "blockquote": re.compile(r"^\s*>", re.M),
    "heading": re.compile(r"^#{1,6} ", re.M),
    "inline math": re.compile(r"(?<![\\\w])\$[^$\s][^$]*\$"),
    "list item": re.compile(r"^\s*[-*+] \S", re.M),
    "paired backticks": re.compile(r"`[^`\s][^`]*`"),
    "table row": re.compile(r"^\s*\|.*\|\s*$", re.M),
}
_SKIP = [
    re.compile(r"<pre\b.*?</pre>", re.S),
    re.compile(r"<code\b.*?</code>", re.S),
    re.compile(r'<span class="arithmatex">.*?</span>', re.S),
    re.compile(r'<div class="math">.*?</div>', re.S),
    re.compile(r"<style\b.*?</style>", re.S),
]


def visible_text(fragment: str) -> str:
    """The text a reader sees outside code and math."""
    for pattern in _SKIP:
        fragment = pattern.sub(" ", fragment)
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def raw_markdown(fragment: str) -> list[str]:
    """The kinds of Markdown syntax found raw in an HTML fragment, with some context."""
    text = visible_text(fragment)
    found = []
    for kind, pattern in _RAW.items():
        match = pattern.search(text)
        if match:
            found.append(f"{kind}: {text[max(0, match.start() - 40) : match.end() + 20]!r}")
    return found


def pre_texts(fragment: str) -> list[str]:
    """The text of every <pre>, as a browser shows it."""
    bodies = re.findall(r"<pre\b[^>]*>(.*?)</pre>", fragment, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", body)) for body in bodies]


def _opening(line: str) -> tuple[str, int, int, str] | None:
    """A fence line's character, length, indentation and language; None for any other line."""
    stripped = line.lstrip(" \t")
    for char in "`~":
        length = len(stripped) - len(stripped.lstrip(char))
        if length >= 3:
            info = stripped[length:].strip()
            if char == "`" and "`" in info:  # CommonMark: no backtick in a backtick fence's info
                return None
            return char, length, len(line) - len(stripped), (info.split()[0].lower() if info else "")
    return None


def fence_bodies(markdown: str) -> list[str]:
    """The body of every fenced code block (math blocks and empty ones left out), as written, less the fence's
    indentation; a fence never closed runs to the end."""
    bodies: list[str] = []
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        opening = _opening(lines[index])
        index += 1
        if opening is None:
            continue
        char, length, indent, lang = opening
        body = []
        while index < len(lines):
            closer = lines[index].strip()
            if len(closer) >= length and closer == char * len(closer):
                break
            line = lines[index]
            body.append(line[min(indent, len(line) - len(line.lstrip())) :])
            index += 1
        index += 1
        if lang != "math" and "".join(body).strip():  # empty placeholders show nothing on a card
            bodies.append("\n".join(body) + "\n")
    return bodies
