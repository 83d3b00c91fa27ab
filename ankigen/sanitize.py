"""Card HTML through an allow-list (nh3, the Ammonia sanitizer): decks never carry scripts, frames,
event handlers or ``javascript:`` links, whoever wrote the notes. Text that only looks like a tag
(``<username>``, ``#include <stdio.h>`` in prose) is shown as text, not swallowed."""

from __future__ import annotations

import re

import nh3

from ankigen.htmltags import ALLOWED_TAGS, HTML_TAGS

_ACTIVE = {"script", "style", "iframe", "object", "embed", "applet", "frame", "frameset", "noscript", "template"}

# The author's colour and emphasis (``<span style="color:green">``) stay; nothing that loads a file
# (``url()``), runs script (``expression()``) or moves the card's layout (``position``, sizes) does.
STYLE_PROPERTIES = frozenset(
    {"color", "background-color", "font-weight", "font-style", "text-decoration", "text-align"}
)
_STYLE_VALUE = re.compile(r"^[#\w\s.,%()+-]*$")
_ACTIVE_VALUE = re.compile(r"url|expression|image|var\(|attr\(|\\", re.IGNORECASE)


def _style(value: str) -> str | None:
    """A ``style`` attribute with only the allowed properties, and only plain values."""
    kept = []
    for declaration in value.split(";"):
        name, _, setting = declaration.partition(":")
        name, setting = name.strip().lower(), setting.strip()
        if name in STYLE_PROPERTIES and setting and _STYLE_VALUE.match(setting) and not _ACTIVE_VALUE.search(setting):
            kept.append(f"{name}: {setting}")
    return "; ".join(kept) or None


def _attribute(element: str, attribute: str, value: str) -> str | None:
    return _style(value) if attribute == "style" else value


_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=_ACTIVE,
    attributes={
        "*": {"class", "title", "lang", "dir", "style"},
        "a": {"href"},
        "img": {"src", "alt", "width", "height"},
        "ol": {"start", "type"},
        "td": {"colspan", "rowspan", "align"},
        "th": {"colspan", "rowspan", "align"},
        "col": {"span"},
    },
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
    strip_comments=True,
    filter_style_properties=set(STYLE_PROPERTIES),
    attribute_filter=_attribute,
)

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9._:-]*)([^<>]*)>")
_UNSAFE = re.compile(
    r"<\s*(?:script|iframe|object|embed|applet|frame|form|base|meta|link|style)\b"
    r"|<[a-z][^<>]*\s(?:on[a-z]+|formaction|srcdoc)\s*="
    r"|<[a-z][^<>]*(?:href|src|action)\s*=\s*[\"']?\s*(?:javascript|vbscript|data:text/html)",
    re.IGNORECASE,
)


def escape_non_tags(fragment: str) -> str:
    """``<username>`` or ``<stdio.h>`` in text is not HTML: escape it so the reader sees it."""
    if "<" not in fragment:
        return fragment

    def keep_or_escape(match: re.Match[str]) -> str:
        name = match.group(2).lower()
        if name in HTML_TAGS:
            return match.group(0)
        return match.group(0).replace("<", "&lt;").replace(">", "&gt;")

    return _TAG.sub(keep_or_escape, fragment)


def sanitize(fragment: str, *, fast: bool = True) -> tuple[str, bool]:
    """The fragment with only safe HTML left, and whether anything unsafe was removed. ``fast``
    lets markup the cleaner would give back unchanged skip it (the same HTML, as tests check)."""
    if not fragment:
        return fragment, False
    if fast and (inert := _inert(fragment)) is not None:
        return inert, False
    unsafe = bool(_UNSAFE.search(fragment))
    return _CLEANER.clean(escape_non_tags(fragment)), unsafe


# What the cleaner leaves as it is: text without characters it would escape or replace, a few
# tags without attributes (the ones ankigen writes for code spans, emphasis and the footer lists),
# properly nested; and a link to a plain web address, to which it adds only its ``rel``.
_INERT_TEXT = re.compile(r"(?:[^<>&\x00-\x08\x0b-\x1f\x7f\r\xa0]|&(?:lt|gt|amp);)*")
_INERT_TAG = re.compile(
    r"<(?:(?P<close>/)(?P<end>code|b|i|em|strong|li|ul|a)|(?P<name>code|b|i|em|strong|li)"
    r'|(?P<list>ul) class="(?:resources|references)"|(?P<link>a) href="(?P<href>https?://[\w.-]+(?:/[\w./%~+-]*)?)")>'
)
_INLINE = frozenset({"code", "b", "i", "em", "strong", "a"})


def _inert(fragment: str) -> str | None:
    """The fragment as the cleaner would give it back, if it is only inert markup; else None."""
    if "<" not in fragment:
        return fragment if _INERT_TEXT.fullmatch(fragment) else None
    out: list[str] = []
    open_tags: list[str] = []
    position = 0
    for tag in _INERT_TAG.finditer(fragment):
        start = tag.start()
        parent = open_tags[-1] if open_tags else None
        if start > position:  # text between tags: plain, and never directly in a list
            text = fragment[position:start]
            if parent == "ul" or not _INERT_TEXT.fullmatch(text):
                return None
            out.append(text)
        position = tag.end()
        end, name, listed, link = tag.group("end", "name", "list", "link")
        if end is not None:
            if parent != end:
                return None
            open_tags.pop()
            out.append(tag.group(0))
            continue
        name = name or listed or link
        if name == "li":
            fits = parent == "ul"
        elif name == "ul":
            fits = parent is None
        elif name == "a":
            fits = "a" not in open_tags
        else:
            fits = parent != "ul"
        if not fits:
            return None
        open_tags.append(name)
        out.append(f'<a href="{tag.group("href")}" rel="noopener noreferrer">' if name == "a" else tag.group(0))
    text = fragment[position:]
    if open_tags or not _INERT_TEXT.fullmatch(text):
        return None
    out.append(text)
    return "".join(out)


MATHML_TAGS = frozenset(
    {
        "math", "mrow", "mi", "mo", "mn", "ms", "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mtext",
        "mtable", "mtr", "mtd", "mover", "munder", "munderover", "mspace", "mstyle", "mpadded", "menclose",
        "mphantom", "semantics", "annotation",
    }
)  # fmt: skip
_MATHML_ATTRIBUTES = frozenset(
    {
        "display", "xmlns", "stretchy", "fence", "form", "columnalign", "mathvariant", "accent", "accentunder",
        "width", "height", "depth", "lspace", "rspace", "separator", "movablelimits", "largeop", "symmetric",
        "notation", "linethickness", "displaystyle", "scriptlevel", "columnlines", "rowlines", "columnspacing",
        "rowspacing", "frame", "minsize", "maxsize",
    }
)  # fmt: skip
_MATHML_CLEANER = nh3.Cleaner(
    tags=set(MATHML_TAGS), clean_content_tags=_ACTIVE, attributes={"*": set(_MATHML_ATTRIBUTES)}, link_rel=None
)


def sanitize_mathml(fragment: str) -> str:
    """MathML made from the notes' TeX, with only MathML left (``\\text{<script>}`` is TeX too)."""
    return _MATHML_CLEANER.clean(fragment)
