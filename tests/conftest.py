"""Shared fixtures: paths, a fixed realistic timestamp, and a real Anki collection to import into."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED = SEEDS / "learning-ebpf.md"
CORPUS = REPO.parent / "shared" / "corpus"
# A realistic build time (2026-01-01); never 0, which breaks Anki.
TIMESTAMP = 1767225600.0
# Set by .ci/run: the shared corpus, Chromium and actionlint must all be there. Elsewhere (a user's
# clone, a GitHub runner, where CI=true too) whatever is missing is skipped with the reason.
REQUIRE_ALL = "ANKIGEN_REQUIRE_ALL"


def missing(what: str, hint: str) -> NoReturn:
    """Skip a test whose corpus or tool is missing; fail it when .ci/run requires everything."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{REQUIRE_ALL}=1 (.ci/run): {what} must be there ({hint})")
    pytest.skip(f"{what} is missing ({hint})")


def corpus_or_skip() -> Path:
    """The shared corpus beside the clone (../shared/corpus)."""
    if (CORPUS / "resources").is_dir():
        return CORPUS
    missing(f"the shared corpus at {CORPUS}", "it sits beside the clone on the project's machines")


@pytest.fixture(autouse=True, scope="session")
def _render_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterable[None]:
    """Tests (and the builds they start) keep their render cache in a temporary folder."""
    previous = os.environ.get("ANKIGEN_CACHE_DIR")
    os.environ["ANKIGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("render-cache"))
    yield
    if previous is None:
        del os.environ["ANKIGEN_CACHE_DIR"]
    else:
        os.environ["ANKIGEN_CACHE_DIR"] = previous


@dataclass
class Imported:
    """A real Anki collection and the logs of the packages imported into it."""

    col: object
    logs: list[object]

    @property
    def new(self) -> int:
        return sum(len(log.new) for log in self.logs)  # type: ignore[attr-defined]

    def problems(self) -> dict[str, int]:
        kinds = (
            "duplicate",
            "conflicting",
            "first_field_match",
            "missing_notetype",
            "missing_deck",
            "empty_first_field",
        )
        return {k: n for k in kinds if (n := sum(len(getattr(log, k)) for log in self.logs))}


class AnkiCollection:
    """A fresh collection of the real Anki backend (the ``anki`` package)."""

    def __init__(self, path: Path) -> None:
        from anki.collection import Collection

        self.col = Collection(str(path))

    def import_packages(self, packages: Iterable[Path]) -> Imported:
        from anki.collection import ImportAnkiPackageRequest
        from anki.import_export_pb2 import ImportAnkiPackageOptions

        logs = []
        for apkg in sorted(packages):
            request = ImportAnkiPackageRequest(
                package_path=str(apkg), options=ImportAnkiPackageOptions(with_scheduling=False)
            )
            logs.append(self.col.import_anki_package(request).log)
        return Imported(self.col, logs)

    def close(self) -> None:
        self.col.close()


@pytest.fixture
def anki_collection(tmp_path: Path) -> Iterable[AnkiCollection]:
    collection = AnkiCollection(tmp_path / "collection.anki2")
    yield collection
    collection.close()


@pytest.fixture
def write_notes(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a notes file under tmp_path/notes and return its path."""

    def write(text: str, name: str = "book.md") -> Path:
        folder = tmp_path / "notes"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
