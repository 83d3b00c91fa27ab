"""The README's commands, found by the ``<!-- command: NAME -->`` line above their code block."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def command(name: str, readme: Path = README) -> str:
    """The one-line shell command under ``<!-- command: name -->``."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(rf"<!-- command: {re.escape(name)} -->\s*```sh\n(.+?)\n```", text, re.S)
    if not match:
        raise LookupError(f"README.md has no '<!-- command: {name} -->' block")
    return match.group(1).strip()
