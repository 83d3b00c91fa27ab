"""Every diagnostic code ankigen reports: its severity and what it means. Shown by
``ankigen check --explain CODE`` and listed in the README (a test keeps the two in step)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ankigen.model import Diagnostic, Severity, SourceLoc

READ_ERROR = "AG001"
UNCLOSED_DETAILS = "AG101"
NO_SUMMARY = "AG102"
EMPTY_QUESTION = "AG103"
EMPTY_ANSWER = "AG104"
UNCLOSED_FENCE = "AG105"
STRAY_CLOSE = "AG106"
DUPLICATE_QUESTION = "AG107"
MISSING_IMAGE = "AG108"
UNSAFE_IMAGE = "AG109"
NO_TITLE = "AG110"
NO_CARDS = "AG111"
SAME_TITLE = "AG112"
EMPTY_SECTIONS = "AG113"
UNSAFE_HTML = "AG114"
SAME_DECK = "AG115"
SAME_NOTES = "AG116"
UNCLOSED_SUMMARY = "AG117"
EMPTY_FENCE = "AG130"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    summary: str
    explanation: str


_ALL = (
    Code(
        "AG001",
        Severity.ERROR,
        "the file can't be read: not UTF-8, binary, empty, or unreadable",
        "Notes files must be UTF-8 text (a BOM and CRLF line endings are fine). Save the file as UTF-8; "
        "the file's other problems are not checked until it can be read. Other files still build.",
    ),
    Code(
        "AG101",
        Severity.ERROR,
        "a `<details>` is never closed (the card is left out; the next cards are kept)",
        "Each card ends with a `</details>` line of its own. The card is left out of the deck and the "
        "cards after it are still read: add the missing `</details>` line.",
    ),
    Code(
        "AG102",
        Severity.ERROR,
        "a `<details>` has no `<summary>` line",
        "The line after `<details>` must be `<summary>question</summary>`: the question of the card.",
    ),
    Code("AG103", Severity.ERROR, "the question is empty", "The `<summary>` holds no text: write the question."),
    Code(
        "AG104",
        Severity.ERROR,
        "the answer is empty (the card is still built, so no review is lost)",
        "Nothing but the question: no answer, no Resources and no References. A card with no back is "
        "an error, but it is still packaged (real notes hold such statement cards, and dropping one "
        "would orphan its reviews in Anki): write the answer.",
    ),
    Code(
        "AG105",
        Severity.ERROR,
        "a code fence is never closed (it is closed at the end of the answer)",
        "A ```` ``` ```` line opens a code block that no later line of the card closes. The block is "
        "closed at the end of the answer, before its Resources and References; add the closing fence.",
    ),
    Code(
        "AG106",
        Severity.WARNING,
        "a `</details>` with no `<details>` above it",
        "A stray closing line: usually a card's `<details>` line was deleted or mistyped.",
    ),
    Code(
        "AG107",
        Severity.WARNING,
        "the same question twice in one book (both cards are kept)",
        "Two cards of a book ask the same question; both are kept, each with its own stable identity. "
        "Reword one, or give it an explicit `<!-- id: NAME -->`.",
    ),
    Code(
        "AG108",
        Severity.WARNING,
        "an image (or the cover) that doesn't exist (the card still builds)",
        "The file an `<img src>` or `![](…)` names, relative to the notes file, is not there. "
        "The card is built with a broken image.",
    ),
    Code(
        "AG109",
        Severity.WARNING,
        "an image outside the notes folder (`--root`): never packaged",
        "An image path that leaves the notes' folder (`../../etc/passwd`, `/etc/hostname`, a symlink "
        "pointing out) is refused, so notes from others cannot pull your files into a deck. The notes' "
        "folder is their git work tree, else the folder named on the command line (a named file's own "
        "folder); `--root DIR` names another.",
    ),
    Code(
        "AG110",
        Severity.WARNING,
        "no `# ` title line: the file name is used",
        "The book's title (the decks' name and the cards' identity) comes from the first `# ` heading.",
    ),
    Code(
        "AG111",
        Severity.NOTICE,
        "a file with no cards",
        "No `<details>` blocks: nothing to build from this file.",
    ),
    Code(
        "AG112",
        Severity.ERROR,
        "two files with the same book title and different notes: one is left out",
        "Two notes files hold the same book (the same `# ` title, ignoring case and spaces) with "
        "different notes, so they would write the same decks. The file with more cards is built (on a "
        "tie, the first by path) and the other is left out whole. Merge the two files, give each book "
        "its own title, or leave the copy out with `exclude`.",
    ),
    Code("AG113", Severity.NOTICE, "empty chapters skipped", "Chapters with no cards get no deck."),
    Code(
        "AG114",
        Severity.WARNING,
        "unsafe HTML removed from a card",
        "`<script>`, `<iframe>`, `on*=` event handlers, `javascript:` links and other active content "
        "are removed before packaging, so a deck never runs code from the notes.",
    ),
    Code(
        "AG115",
        Severity.WARNING,
        "two sections of a book give the same deck: their cards are one deck",
        "Anki knows a deck by its name (ignoring case), so two sections named alike (two `## Default "
        "Value` headings, `Chapter 4/12` and `Chapter 04`) are one deck: their cards go into one deck "
        "and one package, in the order of the notes. Rename one heading to keep them apart.",
    ),
    Code(
        "AG116",
        Severity.NOTICE,
        "a copy of another file's notes: the book is built once",
        "Two files hold the same notes (compared without BOM and with LF line endings): the book is "
        "built once, from the file with the first path. Leave the copy out with `exclude` to silence this.",
    ),
    Code(
        "AG117",
        Severity.ERROR,
        "a `<summary>` is not closed on its line (the card is still built)",
        "The question is one line, `<summary>question</summary>`. When `</summary>` is missing, the "
        "rest of the `<summary>` line is the question and the lines below are the answer; when it "
        "is on a later line of the card, the lines up to it are the question. Either way the card "
        "and the cards after it are kept: close the `<summary>` on its line.",
    ),
    Code(
        "AG130",
        Severity.WARNING,
        "an empty code block (left out of the card)",
        "A code fence with nothing inside, usually a placeholder: the card shows nothing there (GitHub "
        "shows an empty box). Write the code, or delete the two fence lines.",
    ),
)

CODES: Mapping[str, Code] = MappingProxyType({c.code: c for c in _ALL})


def diagnostic(code: str, loc: SourceLoc, message: str) -> Diagnostic:
    """A finding of a registered code, with the code's severity."""
    return Diagnostic(loc, CODES[code].severity, code, message)
