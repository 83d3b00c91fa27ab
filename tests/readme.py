"""The README's commands and workflows, found by the ``<!-- KIND: NAME -->`` line above their code block."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def block(kind: str, name: str, language: str, readme: Path = README) -> str:
    """The code block under ``<!-- kind: name -->``."""
    text = readme.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {kind}: {re.escape(name)} -->\s*```{language}\n(.+?)\n```", text, re.S)
    if not match:
        raise LookupError(f"README.md has no '<!-- {kind}: {name} -->' {language} block")
    return match.group(1).strip() + "\n"


def command(name: str, readme: Path = README) -> str:
    """The one-line shell command under ``<!-- command: name -->``."""
    return block("command", name, "sh", readme).strip()


def workflow(name: str, readme: Path = README) -> str:
    """The GitHub Actions workflow under ``<!-- workflow: name -->``."""
    return block("workflow", name, "yaml", readme)
