"""Card HTML through an allow-list (nh3, the Ammonia sanitizer): decks never carry scripts, frames,
event handlers or ``javascript:`` links, whoever wrote the notes. Text that only looks like a tag
(``<username>``, ``#include <stdio.h>`` in prose) is shown as text, not swallowed."""

from __future__ import annotations

import re

import nh3

from ankigen.htmltags import ALLOWED_TAGS, HTML_TAGS

_ACTIVE = {"script", "style", "iframe", "object", "embed", "applet", "frame", "frameset", "noscript", "template"}

_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=_ACTIVE,
    attributes={
        "*": {"class", "title", "lang", "dir"},
        "a": {"href"},
        "img": {"src", "alt", "width", "height"},
        "ol": {"start", "type"},
        "td": {"colspan", "rowspan", "align", "style"},
        "th": {"colspan", "rowspan", "align", "style"},
        "col": {"span"},
    },
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
    strip_comments=True,
    filter_style_properties={"text-align"},
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


def sanitize(fragment: str) -> tuple[str, bool]:
    """The fragment with only safe HTML left, and whether anything unsafe was removed."""
    if not fragment:
        return fragment, False
    unsafe = bool(_UNSAFE.search(fragment))
    return _CLEANER.clean(escape_non_tags(fragment)), unsafe
