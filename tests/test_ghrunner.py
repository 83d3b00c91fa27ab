"""The emulated runner itself (tests/ghrunner.py): what one step writes to GITHUB_ENV, GITHUB_PATH and
GITHUB_OUTPUT reaches the later steps as on GitHub, a failed step skips the rest but ``always()``,
and an expression it cannot evaluate is an error rather than a guess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from .ghrunner import Runner

JOB = """
steps:
  - id: first
    run: |
      echo "GREETING=hello" >> "$GITHUB_ENV"
      printf 'LETTER<<END\\ndear\\nreader\\nEND\\n' >> "$GITHUB_ENV"
      mkdir -p tools && printf '#!/bin/sh\\necho tool\\n' > tools/tool && chmod +x tools/tool
      echo "$PWD/tools" >> "$GITHUB_PATH"
      echo "answer=42" >> "$GITHUB_OUTPUT"
  - name: second
    env:
      ANSWER: ${{ steps.first.outputs.answer }}
      WHO: ${{ inputs.who }}
    working-directory: tools
    run: |
      echo "$GREETING $WHO, $ANSWER, $(tool), ${LETTER//$'\\n'/ }, $(basename "$PWD")"
      echo "## done" >> "$GITHUB_STEP_SUMMARY"
      exit 3
  - name: skipped
    run: echo never
  - name: always
    if: ${{ always() }}
    run: echo still
"""


def test_file_commands_and_conditions_work_as_on_a_runner(tmp_path: Path) -> None:
    runner = Runner(tmp_path, inputs={"who": "learner"}, runner={"temp": str(tmp_path / "temp")}, env=dict(os.environ))
    result = runner.run(yaml.safe_load(JOB)["steps"])
    assert [(s.name, s.ran, s.returncode) for s in result.steps] == [
        ("first", True, 0),
        ("second", True, 3),
        ("skipped", False, 0),
        ("always", True, 0),
    ]
    assert result.step("second").stdout == "hello learner, 42, tool, dear reader, tools\n"
    assert result.summary == "## done\n"


def test_an_expression_it_cannot_evaluate_is_an_error(tmp_path: Path) -> None:
    runner = Runner(tmp_path, runner={"temp": str(tmp_path / "temp")})
    with pytest.raises(ValueError, match="cannot evaluate"):
        runner.run([{"run": "echo ${{ github.event.pull_request.title }}"}])
    with pytest.raises(ValueError, match="cannot evaluate if"):
        runner.run([{"if": "github.ref == 'refs/heads/main'", "run": "true"}])
