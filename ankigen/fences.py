"""Fenced code lines, shared by the extractor (card boundaries) and the renderer (highlighting).

A fence opens with three or more backticks (or tildes) and an optional language; it closes with a
line of at least as many of the same character. Real notes close ```` ``` ```` with six or seven.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


@dataclass(frozen=True, slots=True)
class Fence:
    """An opening fence line: its marker, indentation and info string (the language)."""

    marker: str
    indent: int
    info: str

    @property
    def lang(self) -> str:
        words = self.info.split()  # an info string of only a no-break space has none
        return words[0].lower() if words else ""

    def closed_by(self, line: str) -> bool:
        """Is ``line`` a closing fence: only this fence's character, at least as many times?"""
        char = self.marker[0]
        if char not in line:  # most lines of a code block: no string built to say no
            return False
        stripped = line.strip()
        return len(stripped) >= len(self.marker) and not stripped.strip(char)


def fence_open(line: str) -> Fence | None:
    """The fence this line opens, if it opens one."""
    if "``" not in line and "~~" not in line:
        return None
    match = _FENCE.match(line)
    if not match:
        return None
    return Fence(match.group("fence"), len(match.group("indent")), match.group("info"))
