"""The render cache's namespace follows the versions of the libraries that shape a card, read
without importlib.metadata, and always as importlib.metadata reads them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from ankigen import cache


@pytest.fixture
def fresh_namespace() -> Iterator[None]:
    cache.namespace.cache_clear()
    yield
    cache.namespace.cache_clear()


def install(folder: Path, name: str, version: str, kind: str = "dist-info") -> None:
    """A distribution's metadata, as pip leaves it in site-packages."""
    for old in folder.glob(f"{name.replace('-', '_')}-*.{kind}"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = folder / f"{name.replace('-', '_')}-{version}.{kind}"
    info.mkdir(parents=True)
    headers = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a: b\n\nVersion: not this\n"
    (info / ("METADATA" if kind == "dist-info" else "PKG-INFO")).write_text(headers, encoding="utf-8")


def test_the_versions_are_importlib_metadatas() -> None:
    versions = cache.library_versions(cache.LIBRARIES)
    assert versions == {name: metadata.version(name) for name in cache.LIBRARIES}
    assert cache.library_versions(["not-installed-anywhere"]) == {"not-installed-anywhere": "?"}


@pytest.mark.usefixtures("fresh_namespace")
@pytest.mark.parametrize("kind", ["dist-info", "egg-info"])
def test_a_new_version_of_a_library_starts_a_fresh_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    monkeypatch.setattr(cache, "LIBRARIES", (*cache.LIBRARIES, "Fake.Lib"))
    install(second, "fake-lib", "9.0")  # further along sys.path: found only when the first has none
    seen = []
    for version in ("1.0", "1.0", "1.1", "2.0rc1"):
        install(first, "fake-lib", version, kind)
        cache.namespace.cache_clear()
        assert (
            cache.library_versions(["Fake.Lib"]) == {"Fake.Lib": version} == {"Fake.Lib": metadata.version("Fake.Lib")}
        )
        seen.append(cache.namespace())
    assert seen[0] == seen[1] and len(set(seen)) == 3
    for old in first.iterdir():
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    cache.namespace.cache_clear()
    assert cache.library_versions(["Fake.Lib"]) == {"Fake.Lib": "9.0"} == {"Fake.Lib": metadata.version("Fake.Lib")}
    assert cache.namespace() not in seen


def test_a_library_without_readable_metadata_is_left_to_importlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    (tmp_path / "odd_lib-1.0.dist-info").mkdir()  # no METADATA file
    assert cache.library_versions(["odd-lib"]) == {"odd-lib": "?"}
