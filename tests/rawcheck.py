"""A check, independent of the renderer, for Markdown syntax left raw in rendered HTML."""

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
