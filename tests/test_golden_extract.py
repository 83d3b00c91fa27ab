"""Golden digests of the extractor: every field it returns, for a fixed set of inputs, must not move.

The extractor is rewritten for speed now and then; its output (and so every package, GUID and
diagnostic after it) must stay exactly the same. Each input here is extracted as a build reads it,
``extract(decode(bytes))``, every field of the result (book, sections, cards, images, locations,
diagnostics) is written as canonical JSON, and its sha256 is compared with the one stored in
``tests/data/golden_extract.json``. The inputs: the seed, the showcase, a benchmark book, the messy
generated library, hand-made tricky files, seeded random mutations of those, and the shared corpus.

A deliberate change of what the extractor returns updates the stored digests:

    ANKIGEN_GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/test_golden_extract.py

(review the diff of the JSON file: the names of the inputs whose extraction changed).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import sys
from enum import Enum
from pathlib import Path, PurePath

from ankigen.errors import ReadError
from ankigen.extract import decode, extract

from .conftest import REPO, SEED, corpus_or_skip
from .library import generate as generate_library

sys.path.insert(0, str(REPO / "benchmarks"))
import generate as benchmark

GOLDEN = REPO / "tests" / "data" / "golden_extract.json"
SHOWCASE = REPO / "tests" / "data" / "showcase.md"
UPDATE = "ANKIGEN_GOLDEN_UPDATE"


def canonical(value: object) -> object:
    """A JSON-able form of an extraction result that keeps every field and the type of each object."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, (tuple, list)):
        return [canonical(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return value.as_posix()
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}")


def serialize(data: bytes, name: str) -> str:
    """What a build makes of a file's bytes, as canonical JSON (a file it cannot read: the error)."""
    try:
        result: object = canonical(extract(decode(data, name), name))
    except ReadError as exc:
        result = {"ReadError": str(exc)}
    return json.dumps(result, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def digest(data: bytes, name: str) -> str:
    return hashlib.sha256(serialize(data, name).encode("utf-8")).hexdigest()


# Hand-made inputs, each aimed at a branch of the scanner; ``card()`` keeps them short.


def card(question: str, *answer: str, close: bool = True) -> str:
    lines = ["<details>", f"<summary>{question}</summary>", "", *answer]
    return "\n".join([*lines, "</details>" if close else "", ""])


FOOTER = ("> ---", "> **Resources**", "> - 1", "> ---", "> **References**", "> - https://example.org", "> ---")

TRICKY: dict[str, str] = {
    "plain": "# Plain\n\n## Chapter 1/2\n\n"
    + card("Q1?", "> A1", *FOOTER)
    + "\n## Chapter 2/2\n\n"
    + card("Q2?", "> A2"),
    "unclosed-fence-then-footer": "# B\n## S\n"
    + card("Q?", "> text", "> ```cpp", "> int x;", "> ---", "> **Resources**", "> - 2", "> **References**", "> - r"),
    "unclosed-fence-then-next-card": "# B\n## S\n"
    + card("Q1?", "> ```py", "> x = 1")
    + card("Q2?", "> A2")
    + card("Q3?", "> ```", "> y", "</details>", "> ```", "> after"),
    "unclosed-fence-at-eof": "# B\n## S\n<details>\n<summary>Q?</summary>\n\n> ```sh\n> ls\n> more\n",
    "unclosed-fence-before-heading": "# B\n## S\n<details>\n<summary>Q?</summary>\n> ```\n## T\n" + card("Q2?", "> a"),
    "fence-holding-details": "# B\n## S\n"
    + card("Q?", "> ```html", "> <details>", "> <summary>x</summary>", "> </details>", "> ```", "> after")
    + card("Q2?", "```html", "<details>", "<summary>y</summary>", "</details>", "```", "> after"),
    "fence-holding-headings": "# B\n## S\n"
    + card("Q?", "> ```md", "> # Title", "> ## Chapter 9/9", "## raw heading", "# raw title", "> ```", "> end")
    + card("Q2?", "```", "## Chapter in code", "```"),
    "fence-holding-footer": "# B\n## S\n"
    + card("Q?", "> ```", "> **Resources**", "> - inside", "> Origin: 1:00", "> ```", "> **References**", "> - out"),
    "fence-holding-id-and-images": "# B\n## S\n"
    + card("Q?", "> ```", "> <!-- id: not-an-id -->", "> <img src='in-code.png'>", "> ![a](b.png)", "> ```"),
    "tilde-fences": "# B\n## S\n"
    + card("Q?", "> ~~~py", "> ```", "> still code", "> ~~~~", "> after")
    + card("Q2?", "> ~~~", "> ``` ", "> ~~", "> ~~~ x", "> ~~~")
    + card("Q3?", "~~~~", "~~~", "~~~~~"),
    "long-fences": "# B\n## S\n"
    + card("Q?", "> ````", "> ```", "> ``````", "> after")
    + card("Q2?", "> ```", "> ``", "> ```` ", "> x")
    + card("Q3?", "> ``` a`b", "> not a fence", "> ```` c ` d", "> ```c", "> code", "> ```   "),
    "indented-fences": "# B\n## S\n"
    + card("Q?", ">    ```py", ">    x", ">    ```", ">     ```", "> \t```", "> \tcode", "    ```", "> x")
    + card("Q2?", "  ```", "  code", "      ```", "> a")
    + card("Q3?", "\t```c", "\tint a;", "\t```"),
    "empty-fences": "# B\n## S\n"
    + card("Q?", "> ```cpp", "> ``````", "> text", "> ```", ">", ">  ", "> ```")
    + card("Q2?", "```", "", "```"),
    "crlf-bom": "\ufeff# B\r\n## S\r\n"
    + card("Q?", "> a", "> ```", "> b", "> ```", *FOOTER).replace("\n", "\r\n")
    + "\r"
    + card("Q2?", "> lone", "\r> cr"),
    "footer-spellings": "# B\n## S\n"
    + card("Q1?", "> a", "> **Resources**", "> - 1.1", "> - x", "> -", "> **References**", "> - [m](u 't')")
    + card("Q2?", "> a", "> **Resources**:", "> - 1", "> **References**:", "> - u")
    + card("Q3?", "> a", "> Resources:", "> - 1", "> References:", "> * u", "> + v", "> 1. w", "> 2) z")
    + card("Q4?", "> a", "> **resources** 3.2", "> REFERENCES: http://x", "> plain line")
    + card("Q5?", "> a", "> Origin: 3:25:00", "> **References**")
    + card("Q6?", "> a", "> **Origin**: page 7", "> - more", "> References: [a](b)")
    + card("Q7?", "> a", ">   **Resources**  ", ">  - spaced", "> ***", "> ___", "> References :", "> x")
    + card("Q8?", "Resources:", "- only footer")
    + card("Q9?", "> a", "> ---", "> ---", ">", "> ***")
    + card("Q10?", "> **Resources**", "> - no answer")
    + card("Q11?", "> **Origin**", "> - Origin video", "> **Resources**", "> - r"),
    "trailing-references": "# B\n## S\n"
    + card("Q1?", "> a")
    + "\n- https://one\n* [two](x)\n\n+ three\n1. four\n-\n- \n---\n- not after rule\n"
    + card("Q2?", "> b")
    + "- r\n***\n"
    + card("Q3?", "> c")
    + "\n\n  - indented\ntext stops it\n- nope\n"
    + card("Q4?")
    + "- only a trailing reference\n",
    "explicit-ids": "# B\n## S\n"
    + card("Q1?", "<!-- id: first -->", "> a")
    + card("Q2?", "> <!--id:second-->", "> b")
    + card("Q3?", "> <!-- ID:  third  -->", "> <!-- id: fourth -->", "> c")
    + card("Q4?", "> <!-- id: two words -->", "> <!-- id: -->", "> d")
    + card("Q5?", "<!-- id: first -->", "> dup id")
    + card("Q1?", "> dup question"),
    "images": "# B\n"
    + '<img src="covers/1.jpg" width="200"/>\n<img src="covers/2.jpg">\n## S\n'
    + card("Q1?", '> <img src="data/a.png" alt="a"/> and <IMG SRC=\'data/b.png\'>', "> ![c](data/c.png)")
    + card("Q2?", '> ![d](<data/d d.png> "t") ![e]( data/e.png ) <img alt=x>', "> <img src=''> <img src=\" \">")
    + card("Q3?", "> a", "> **Resources**", '> - <img src="in-footer.png">'),
    "cover-after-card": "# B\n" + card("Q?", "> a") + '<img src="late-cover.png">\n## S\n',
    "cover-markdown": "# B\n\n![cover](covers/x.png)\n\n## S\n" + card("Q?", "> a"),
    "summary-variants": "# B\n## S\n"
    + "<details>\n<summary>Q1 never closed\n\n> a\n</details>\n"
    + "<details>\n<summary>Q2 closed\nbelow</summary>\n\n> b\n</details>\n"
    + "<details>\n<summary>Q3 open\n## boundary\n</summary>\n</details>\n"
    + "<details>\n\n\n  <SUMMARY class='x'>  Q4 spaced  </summary>  \n> d\n</details>\n"
    + "<details>\n<summary> </summary>\n> e\n</details>\n"
    + "<details>\n<summary><b></b>&nbsp;</summary>\n> f\n</details>\n"
    + "<details>\n> no summary\n</details>\n"
    + "<details>\n<summary>Q5 then details\n<details>\n<summary>Q6</summary>\n> g\n</details>\n"
    + "<details>\n<summary>Q7 runs to stray\n</details>\n</summary>\n"
    + "<details>\n<summary>Q8</summary> trailing text\n> h\n</details>\n"
    + "<details>\n<summary>Q9</summary>",
    "stray-close": "</details>\n# B\n</details>\n## S\n" + card("Q?", "> a") + "</details>\n  </DETAILS>  \n",
    "details-variants": "# B\n## S\n"
    + "<details open>\n<summary>Q1</summary>\n> a\n</details>\n"
    + "  <DETAILS>  \n<summary>Q2</summary>\n> b\n  </Details>\n"
    + "<details>x\n<summary>Q3</summary>\n> c\n</details>\n"
    + "<details><summary>Q4</summary>\n> d\n</details>\n",
    "headings": "#NoSpace\n# [Linked **Title**](https://x) <sup>(published)</sup>\n# Second title\n"
    + "## Chapter 2/11 <sup>(completed => edited => published)</sup>\n"
    + card("Q1?", "> a", "### sub heading in answer", "> b")
    + "## Chapter 04 (ignored)\n## Chapter 5 <sup>(writing)</span>\n## std::variant #\n"
    + card("Q2?", "> a", "## heading inside card", "> b")
    + "## Chapter 3/ 4 <sub>(draft)</sub>\n## Views &amp; <i>Ranges</i>\n###### Deep\n",
    "no-title-no-cards": "just text\n\n- a list\n",
    "no-title-with-card": card("Q?", "> a"),
    "empty": "",
    "blank-lines": "\n\n\n",
    "quote-variants": "# B\n## S\n"
    + card("Q?", ">x", ">  two spaces", ">\ttab", "   > three", "    > four", ">> nested", ">", "> > deep", " >x")
    + card("Q2?", "> ```", ">code", ">  code2", "    > ```", "> ```"),
    "unquoted-mix": "# B\n## S\n"
    + card("Q?", "> prose", "```sh", "echo $HOME", "```", "---", "> more", "text", "---", "", "> ---", "> end")
    + card("Q2?", "> **Description**", ">", "> after label", "***", "> x", "___"),
    "description-only": "# B\n## S\n" + card("Q?", "> **Description**:", "", "> **Resources**", "> - 1"),
    "rules": "# B\n## S\n" + card("Q?", "> a", "> ---", "> b", "> - - -", "> ----", ">", "> ---", "> c", "> ***"),
    "duplicates": "# B\n" + card("Same?", "> a") + "## S\n" + card("Same?", "> b") + card("<b>Same</b>?", "> c"),
    "questions": "# B\n## S\n"
    + card("Use `nullptr` over <code>NULL</code>:", "> a")
    + card("vector<int> &amp; map<K, V>?", "> b")
    + card("$e^{i\\pi}$ and <br> and <span style='x'>y</span>?", "> c"),
    "fence-closes-later": "# B\n## S\n"
    + card("Q1?", "> ```", "> a", "</details>", "> b", "> ```", "> c")
    + card("Q2?", "> ```", "<details>", "> ```", "> d")
    + card("Q3?", "> ```", "</details>", "<details>", "> ```"),
    "tabs-and-spaces": "# B\t\n##\tS\t\n"
    + "<details>\t\n\t<summary>\tQ?\t</summary>\t\n\n>\tA\n\t</details>\n"
    + card("Q2?", "> a", "\t---", "> b"),
    "unicode": "# Bücher — “quotes”\n## Kapitel 1/1\n" + card("Ünïcode? \u00a0", "> ä ö ü ß € 🐍", "> \u2028x"),
    "nbsp-info": "# B\n## S\n" + card("Q?", "> ```\u00a0", "> code", "> ```"),
}

_FRAGMENTS = [
    "<details>", "</details>", "<summary>", "</summary>", "<summary>Q?</summary>", "```", "``````", "> ```py",
    "~~~", "> ~~~", "    ```", "---", "> ---", "***", "> **References**", "> **Resources**", "Resources: 1",
    "> Origin: 3:25:00", "- [x](y)", "- ", "## Chapter 1/2", "# ", "# T", "<!-- id: x -->", "> <!-- id: y -->",
    "\t", "", ">", "<b>", "<img src='m.png'>", "> ![i](j.png)", "> **Description**",
]  # fmt: skip


def mutants(count: int, seed: int = 14) -> dict[str, str]:
    """Seeded random edits of real and tricky notes: lines dropped, cut, inserted, doubled, quoted."""
    rng = random.Random(seed)
    sources = {
        "seed": SEED.read_text(encoding="utf-8"),
        "showcase": SHOWCASE.read_text(encoding="utf-8"),
        "tricky": "\n".join(TRICKY.values()),
    }
    out: dict[str, str] = {}
    for number in range(count):
        name = rng.choice(sorted(sources))
        lines = sources[name].split("\n")
        for _ in range(rng.randint(1, 8)):
            action = rng.choice(["drop", "cut", "insert", "insert", "dup", "quote", "unquote"])
            at = rng.randrange(len(lines) + 1)
            if action == "drop" and lines:
                del lines[min(at, len(lines) - 1)]
            elif action == "cut":
                lines = lines[:at] if rng.random() < 0.5 else lines[at:]
            elif action == "insert":
                lines.insert(at, rng.choice(_FRAGMENTS))
            elif action == "quote" and lines:
                lines[min(at, len(lines) - 1)] = "> " + lines[min(at, len(lines) - 1)]
            elif action == "unquote" and lines:
                lines[min(at, len(lines) - 1)] = lines[min(at, len(lines) - 1)].lstrip("> ")
            elif lines:
                lines.insert(at, lines[min(at, len(lines) - 1)])
        out[f"mutant/{number:03d}-{name}.md"] = "\n".join(lines)
    return out


def inputs(tmp: Path) -> dict[str, bytes]:
    """Every input but the corpus, by a stable name (which is also the path the extractor is given)."""
    found: dict[str, bytes] = {
        "seed/learning-ebpf.md": SEED.read_bytes(),
        "data/showcase.md": SHOWCASE.read_bytes(),
    }
    [book] = benchmark.write_ankigen(benchmark.cards(1200), tmp / "benchmark", per_book=1200)
    found["benchmark/" + book.name] = book.read_bytes()
    root = tmp / "library"
    generate_library(root)
    for path in sorted(root.rglob("*.md")):
        found["library/" + path.relative_to(root).as_posix()] = path.read_bytes()
    for name, text in TRICKY.items():
        found[f"tricky/{name}.md"] = text.encode("utf-8")
    for name, text in mutants(300).items():
        found[name] = text.encode("utf-8")
    return found


def _stored() -> dict[str, str]:
    if not GOLDEN.exists():
        return {}
    stored: dict[str, str] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return stored


def _compare(got: dict[str, str], group: str) -> None:
    """Compare the digests of one group (``corpus/`` or the rest) with the stored ones, or store them."""
    stored = _stored()
    expected = {k: v for k, v in stored.items() if k.startswith("corpus/") == (group == "corpus")}
    if os.environ.get(UPDATE) == "1":
        kept = {k: v for k, v in stored.items() if k not in expected}
        GOLDEN.write_text(json.dumps({**kept, **got}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    assert expected, f"no stored digests for {group}: run with {UPDATE}=1 once"
    changed = sorted(k for k in got.keys() & expected.keys() if got[k] != expected[k])
    assert not changed, f"{len(changed)} extraction(s) changed: {changed[:20]}"
    assert got.keys() == expected.keys(), f"inputs differ: {sorted(got.keys() ^ expected.keys())[:20]}"


def test_extraction_of_every_input_is_unchanged(tmp_path: Path) -> None:
    _compare({name: digest(data, name) for name, data in inputs(tmp_path).items()}, "inputs")


def test_extraction_of_the_corpus_is_unchanged() -> None:
    resources = corpus_or_skip() / "resources"
    files = sorted(resources.rglob("*.md"))
    got = {"corpus/" + p.relative_to(resources).as_posix(): digest(p.read_bytes(), p.name) for p in files}
    _compare(got, "corpus")


def test_serialization_keeps_every_field() -> None:
    """The digest sees each field: a card's answer, an image's line, a diagnostic's message."""
    text = "# B\n## S\n" + card("Q?", "> <img src='a.png'>", "> ```", "> ```") + card("Q?", "> a")
    data = json.loads(serialize(text.encode("utf-8"), "b.md"))
    first = data["book"]["sections"][0]["cards"][0]
    assert first["images"] == [{"__type__": "ImageRef", "src": "a.png", "loc": {"__type__": "SourceLoc",
                                "path": "b.md", "line": 6, "col": 1}}]  # fmt: skip
    assert first["answer"] == "<img src='a.png'>\n```\n```" and first["explicit_id"] is None and first["key"] == "Q?"
    assert [(d["code"], d["loc"]["line"], d["severity"]) for d in data["diagnostics"]] == [
        ("AG130", 7, "warning"),
        ("AG107", 10, "warning"),
    ]
    assert json.loads(serialize(b"\xff", "x.md")) == {"ReadError": "x.md:1:1: error not UTF-8 (byte 0xff at offset 0)"}
