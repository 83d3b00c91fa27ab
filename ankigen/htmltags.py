"""HTML element names: what the sanitizer allows, and what is HTML at all (the rest is text)."""

from __future__ import annotations

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd", "del",
        "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
        "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
        "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "tt", "u", "ul", "var",
    }
)  # fmt: skip
# Real HTML elements that are not allowed: removed (with their content for the active ones).
OTHER_HTML = frozenset(
    {
        "applet", "area", "audio", "base", "body", "button", "canvas", "center", "embed", "font", "form",
        "frame", "frameset", "head", "html", "iframe", "input", "label", "link", "map", "math", "meta",
        "noscript", "object", "option", "param", "picture", "script", "select", "source", "style", "svg",
        "template", "textarea", "title", "track", "video", "wbr", "address", "article", "aside", "bdi",
        "bdo", "big", "data", "dialog", "footer", "header", "legend", "fieldset", "main", "menu", "meter",
        "nav", "output", "progress", "rp", "rt", "ruby", "section", "slot", "time", "nobr",
    }
)  # fmt: skip
HTML_TAGS = ALLOWED_TAGS | OTHER_HTML
