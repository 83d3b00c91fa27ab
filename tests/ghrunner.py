"""Runs the ``run:`` steps of a GitHub Actions job or composite action the way a runner does, on this
machine: in order, with bash, the step's ``env:`` and ``working-directory``, ``${{ … }}`` replaced
from the contexts given, fresh ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_PATH`` files per step
applied afterwards as a runner applies them, and one ``GITHUB_STEP_SUMMARY``.

A composite action in the workspace (``uses: ./``), or one the caller maps to a local folder, runs
its steps in place, with its inputs from ``with:`` over their defaults. What it does not do, on
purpose: other ``uses:`` steps are skipped (they download actions from GitHub); the caller provides
what they would (a Python on PATH for actions/setup-python). An expression it cannot evaluate is an
error, never a guess.

``python -m tests.ghrunner WORKFLOW JOB WORKSPACE`` runs a workflow's job in WORKSPACE (a clone).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STATUS = {"success()", "always()", "failure()", "cancelled()"}
# bash as a runner starts it for `shell: bash` (and for a workflow step without a shell).
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


@dataclass
class Step:
    """One step as the runner ran it (or skipped it)."""

    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """A job's steps as run, and its summary."""

    steps: list[Step]
    summary: str

    @property
    def failed(self) -> bool:
        return any(s.returncode for s in self.steps)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def step_name(step: Mapping[str, Any]) -> str:
    return str(step.get("name") or step.get("id") or step.get("uses") or step.get("run", "").split("\n")[0])


def _file_commands(path: Path) -> dict[str, str]:
    """``NAME=value`` lines and ``NAME<<DELIMITER`` blocks, as GITHUB_OUTPUT and GITHUB_ENV hold them."""
    values: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for more in lines:
                if more == delimiter:
                    break
                block.append(more)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


class Runner:
    """The contexts of one job: ``inputs``, ``github``, ``runner``, and what the steps set."""

    def __init__(
        self,
        workspace: Path,
        *,
        inputs: Mapping[str, str] | None = None,
        github: Mapping[str, str] | None = None,
        runner: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        actions: Mapping[str, Path] | None = None,
    ) -> None:
        self.workspace = workspace
        self.inputs = dict(inputs or {})
        self.github = dict(github or {})
        self.runner = dict(runner or {})
        self.env = dict(env if env is not None else os.environ)
        self.actions = dict(actions or {})
        self.count = 0
        self.outputs: dict[str, dict[str, str]] = {}
        # The runner's own files (step scripts, GITHUB_OUTPUT, …), under runner.temp as on a runner.
        if "temp" in self.runner:
            Path(self.runner["temp"]).mkdir(parents=True, exist_ok=True)
        self.files = Path(tempfile.mkdtemp(prefix="ghrunner-", dir=self.runner.get("temp")))
        self.summary = self.files / "step-summary.md"
        self.summary.touch()

    def evaluate(self, expression: str) -> str:
        """A context value such as ``inputs.paths`` or ``steps.build.outputs.errors``."""
        parts = expression.split(".")
        if len(parts) == 2 and parts[0] in ("inputs", "github", "runner", "env"):
            return {"inputs": self.inputs, "github": self.github, "runner": self.runner, "env": self.env}[parts[0]].get(
                parts[1], ""
            )
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        raise ValueError(f"the emulated runner cannot evaluate ${{{{ {expression} }}}}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.evaluate(m.group(1)), text)

    def should_run(self, step: Mapping[str, Any], failed: bool) -> bool:
        condition = EXPRESSION.sub(lambda m: m.group(1), str(step.get("if", "success()"))).strip()
        if condition not in STATUS:
            raise ValueError(f"the emulated runner cannot evaluate if: {condition}")
        return {"success()": not failed, "always()": True, "failure()": failed, "cancelled()": False}[condition]

    def run(self, steps: list[Mapping[str, Any]], *, replace: Mapping[str, str] | None = None) -> Run:
        """Run the steps in order; ``replace`` swaps a named step's script (say so in the test)."""
        done: list[Step] = []
        for step in steps:
            name = step_name(step)
            uses = str(step.get("uses", ""))
            action = self.actions.get(uses) or (self.workspace / uses if uses.startswith("./") else None)
            if (uses and action is None) or not self.should_run(step, any(s.returncode for s in done)):
                done.append(Step(name, ran=False))
            elif action is not None:
                done += self._run_action(action, step, replace).steps
            else:
                script = (replace or {}).get(name, step["run"])
                done.append(self._run_step(step, name, self.substitute(script)))
        return Run(done, self.summary.read_text(encoding="utf-8"))

    def action_inputs(self, folder: Path, given: Mapping[str, Any]) -> dict[str, str]:
        """The inputs of the action in ``folder``: the step's ``with:`` over the defaults."""
        declared = load(folder / "action.yml").get("inputs", {})
        defaults = {k: self.substitute(str(v.get("default", ""))) for k, v in declared.items()}
        return {**defaults, **{k: self.substitute(str(v)) for k, v in given.items()}}

    def _run_action(self, folder: Path, step: Mapping[str, Any], replace: Mapping[str, str] | None) -> Run:
        """A composite action's steps, in its own inputs, ``github.action_path`` and step outputs."""
        saved = self.inputs, self.github, self.outputs, self.env.get("GITHUB_ACTION_PATH")
        self.inputs, self.outputs = self.action_inputs(folder, step.get("with") or {}), {}
        self.github = {**self.github, "action_path": str(folder)}
        self.env["GITHUB_ACTION_PATH"] = str(folder)
        metadata = load(folder / "action.yml")
        try:
            return self.run(metadata["runs"]["steps"], replace=replace)
        finally:
            self.inputs, self.github, self.outputs, action_path = saved
            if action_path is None:
                self.env.pop("GITHUB_ACTION_PATH", None)
            else:
                self.env["GITHUB_ACTION_PATH"] = action_path

    def _run_step(self, step: Mapping[str, Any], name: str, script: str) -> Step:
        self.count += 1
        number = self.count
        if step.get("shell", "bash") != "bash":
            raise ValueError(f"{name}: the emulated runner runs only shell: bash")
        files = {kind: self.files / f"{kind}-{number}" for kind in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for path in files.values():
            path.write_text("", encoding="utf-8")
        script_file = self.files / f"step-{number}.sh"
        script_file.write_text(script, encoding="utf-8")
        env = {**self.env, **{k: self.substitute(str(v)) for k, v in (step.get("env") or {}).items()}}
        env.update({k: str(v) for k, v in files.items()}, GITHUB_STEP_SUMMARY=str(self.summary))
        cwd = self.workspace / self.substitute(str(step.get("working-directory", ".")))
        done = subprocess.run([*BASH, str(script_file)], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        self.env.update(_file_commands(files["GITHUB_ENV"]))
        added = [line for line in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines() if line]
        if added:
            self.env["PATH"] = os.pathsep.join([*reversed(added), self.env.get("PATH", "")])
        outputs = _file_commands(files["GITHUB_OUTPUT"])
        if "id" in step:
            self.outputs[str(step["id"])] = outputs
        return Step(name, True, done.returncode, done.stdout, done.stderr, outputs)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def main(argv: list[str]) -> int:
    """Run a workflow's job in a workspace; print each step's output; exit 1 if a step failed."""
    workflow, job, workspace = Path(argv[0]), argv[1], Path(argv[2]).resolve()
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True, check=True)
    temp = os.environ.get("RUNNER_TEMP") or tempfile.mkdtemp(prefix="runner-temp-")
    # The environment a runner gives: none of this machine's virtualenv or ankigen settings.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env = {k: v for k, v in env.items() if not k.startswith("ANKIGEN_")}
    env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), RUNNER_TEMP=temp)
    runner = Runner(
        workspace,
        github={"sha": sha.stdout.strip(), "workspace": str(workspace)},
        runner={"os": "Linux", "temp": temp},
        env=env,
    )
    result = runner.run(load(workflow)["jobs"][job]["steps"])
    for step in result.steps:
        state = f"exit {step.returncode}" if step.ran else "skipped"
        print(f"--- {step.name}: {state}\n{step.stdout[-4000:]}{step.stderr[-4000:]}", flush=True)
    print(f"--- job summary\n{result.summary}")
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
