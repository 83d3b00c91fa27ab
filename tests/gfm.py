"""GitHub's own Markdown engine (cmark-gfm) as the oracle for answers: both renderings reduced to
the same outline of blocks and inline elements, so the differences that a reader would see stand out.

The deliberate differences are normalised here, each on purpose and nowhere else:
- code blocks: ours are Pygments ``<div class="highlight">``; only the code text is compared, and
  an empty block (a placeholder) is left out: GitHub shows an empty box, ankigen nothing;
- ```` ```math ```` blocks: GitHub and ankigen both show display math (cmark-gfm leaves it a ``<pre>``);
- math: ours is MathJax ``\\(…\\)``/``\\[…\\]`` (GitHub renders ``$…$`` after cmark-gfm, which
  leaves the dollars as text): math spans are masked in the source, for both engines alike;
- link targets are compared URL-decoded (cmark-gfm writes ``a%20b``, Python-Markdown ``a b``);
- the leading ``**Description**`` label: dropped by the extractor before either engine sees it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import cmarkgfm
from cmarkgfm.cmark import Options

from ankigen.fences import fence_open
from ankigen.render import convert
from ankigen.sanitize import sanitize

_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "table", "tr", "th", "td", "hr"}
_INLINE = {"code", "a", "em", "strong", "img", "del"}
_SAME = {"b": "strong", "i": "em", "s": "del", "strike": "del"}
_VOID = {"hr", "img", "br"}


class _Outline(HTMLParser):
    """Tokens: ``<li@2>`` for a list item two lists deep, ``<code>``, ``text:…`` (whitespace folded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[str] = []
        self.lists = 0
        self.code_block: list[str] | None = None
        self.code_depth = 0
        self.math = False
        self.text: list[str] = []

    def _flush(self) -> None:
        text = " ".join("".join(self.text).split())
        if text:
            self.tokens.append(f"text:{text}")
        self.text = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self.code_block is not None:
            self.code_depth += tag not in _VOID
            return
        classes = (found.get("class") or "").split()
        if tag == "pre" or (tag == "div" and ("highlight" in classes or "math" in classes)):
            self._flush()
            self.code_block, self.code_depth = [], 1
            self.math = found.get("lang") == "math" or "math" in classes
            return
        tag = _SAME.get(tag, tag)
        if tag in _BLOCKS or tag in _INLINE:
            self._flush()
            if tag in ("ul", "ol"):
                self.lists += 1
            href, src = (unquote(found.get(name) or "") for name in ("href", "src"))
            label = {"li": f"li@{self.lists}", "a": f"a href={href}", "img": f"img src={src}"}
            self.tokens.append(f"<{label.get(tag, tag)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.code_block is not None:
            if tag not in _VOID:
                self.code_depth -= 1
            if self.code_depth == 0:
                code = "".join(self.code_block).rstrip("\n")
                if self.math:
                    self.tokens.append("math-block")
                elif code.strip():  # GitHub shows an empty box for an empty block, ankigen nothing
                    self.tokens.append("code-block:" + code)
                self.code_block = None
            return
        tag = _SAME.get(tag, tag)
        if (tag in _BLOCKS or tag in _INLINE) and tag not in _VOID:
            self._flush()
            if tag in ("ul", "ol"):
                self.lists -= 1
            self.tokens.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        (self.code_block if self.code_block is not None else self.text).append(data)


def outline(fragment: str) -> list[str]:
    parser = _Outline()
    parser.feed(fragment)
    parser.close()
    parser._flush()
    # ``***x***``: <em><strong> on GitHub, <strong><em> in Python-Markdown; the same bold italics.
    tokens = parser.tokens
    for index in range(len(tokens) - 1):
        if (tokens[index], tokens[index + 1]) in (("<strong>", "<em>"), ("</em>", "</strong>")):
            tokens[index], tokens[index + 1] = tokens[index + 1], tokens[index]
    return tokens


# Math as GitHub reads it: $`…`$, $$…$$, and $…$ with no space inside the dollars.
_MATH = re.compile(r"\$`[^`\n]+`\$|\$\$.+?\$\$|(?<![\\$\w])\$(?=\S)[^$\n]+?(?<=\S)\$(?![\w$])", re.DOTALL)


def mask_math(text: str) -> str:
    """Each math span outside code blocks becomes a plain word, for both engines alike."""
    out: list[str] = []
    fence = None
    chunk: list[str] = []
    counter = iter(range(1_000_000))

    def flush() -> None:
        out.append(_MATH.sub(lambda m: f"MATH{next(counter)}" + "\n" * m.group(0).count("\n"), "\n".join(chunk)))
        chunk.clear()

    for line in text.split("\n"):
        if fence is not None:
            out.append(line)
            if fence.closed_by(line.lstrip("> ")):
                fence = None
            continue
        fence = fence_open(line.lstrip("> ") if line.lstrip().startswith(">") else line)
        if fence is not None:
            if chunk:
                flush()
            out.append(line)
            continue
        chunk.append(line)
    if chunk:
        flush()
    return "\n".join(out)


def ours(text: str) -> list[str]:
    return outline(sanitize(convert(text)[0])[0])


def github(text: str) -> list[str]:
    return outline(sanitize(cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE))[0])


def difference(text: str) -> tuple[list[str], list[str]] | None:
    """The two outlines of one answer (math masked), or None when they agree."""
    masked = mask_math(text)
    mine, theirs = ours(masked), github(masked)
    return None if mine == theirs else (mine, theirs)
