"""The action's job summary: books, chapters, cards and problems, as Markdown on stdout, and the
problem counts as step outputs (``errors``, ``warnings``) for the step that decides the job.

Reads only ankigen's machine-readable output, saved in REPORT by the build step, so the CLI's
wording can change freely: ``check --format json`` (books, cards, problems) and ``inspect --json``
of the phone package (every chapter deck that was built; absent when nothing was).

Usage: summary.py REPORT OUT ARTIFACT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SHOWN = 50  # problems listed in the summary; the annotations and the log have them all


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def summary(report: Path, out: Path, artifact: str) -> tuple[str, int, int]:
    """The Markdown summary, and the numbers of errors and warnings."""
    checked = _load(report / "check.json")
    counts = checked["summary"]
    phone = report / "phone.json"
    chapters = sum(1 for deck in _load(phone)["decks"] if deck["cards"]) if phone.exists() else 0
    errors, warnings = int(counts["errors"]), int(counts["warnings"])
    packages = sorted(p.name for p in out.glob("*.apkg"))
    lines = [
        "## Anki decks",
        "",
        "| books | chapters | cards | errors | warnings |",
        "|---:|---:|---:|---:|---:|",
        f"| {counts['books']} | {chapters} | {counts['cards']} | {errors} | {warnings} |",
        "",
        f"Artifact `{artifact}`: {len(packages)} package(s) from `{out}`; artifact `{artifact}-phone`: "
        "every deck in one `decks.apkg`, for a phone. Download them from this run's page (Artifacts).",
    ]
    problems = [d for d in checked["diagnostics"] if d["severity"] in ("error", "warning")]
    if problems:
        lines += ["", "### Problems", ""]
        lines += [
            f"- `{d['path']}:{d['line']}:{d['col']}` {d['severity']} {d['code']}: {d['message']}"
            for d in problems[:SHOWN]
        ]
        if len(problems) > SHOWN:
            lines.append(f"- … and {len(problems) - SHOWN} more (see the annotations)")
    return "\n".join(lines) + "\n", errors, warnings


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    text, errors, warnings = summary(Path(argv[0]), Path(argv[1]), argv[2])
    sys.stdout.write(text)
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as outputs:
        outputs.write(f"errors={errors}\nwarnings={warnings}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
