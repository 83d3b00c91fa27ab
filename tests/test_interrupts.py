"""Ctrl-C and kills at any moment of a real build (the ``ankigen`` entry point in its own process
group, a cold cache, notes changed before every run so every package is really written again): the
folder holds complete packages of the previous build or of the new one, never half of one, and no
temporary file outlives the next build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ankigen import build as build_module
from ankigen import manifest
from ankigen.apkginfo import read_package
from ankigen.build import build

ANKIGEN = str(Path(sys.executable).with_name("ankigen"))
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"
BOOKS = 30
RUNS = 12
IMAGE = 1 << 20  # a chapter's picture in the kill test: packages of a megabyte, slow to write
CARD = """<details>
<summary>Question {n} of book {b}?</summary>

> Answer {n}, version {v}.
>
> ```python
> def answer_{n}(x):
>     return [x * {n} for _ in range({v})]
> ```
</details>
"""


def write_library(notes: Path, version: int, image: int = 0) -> None:
    """Books in five folders, each with a README index page and three chapters of code cards; with
    ``image`` bytes, each chapter's first card shows an incompressible image of that size, so that
    writing the packages takes much of a build."""
    if image:
        (notes / "img").mkdir(parents=True, exist_ok=True)
        for chapter in range(1, 4):
            picture = notes / "img" / f"chapter-{chapter}.png"
            if not picture.exists():
                picture.write_bytes(b"\x89PNG" + os.urandom(image))
    for b in range(BOOKS):
        folder = notes / f"subject-{b % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "README.md").write_text(f"# Subject {b % 5}\n\nThe books of this subject.\n", encoding="utf-8")
        text = f"# Book {b}\n"
        for chapter in range(1, 4):
            cards = [CARD.format(n=chapter * 100 + n, b=b, v=version) for n in range(10)]
            if image:
                cards[0] = cards[0].replace("</details>", f'>\n> <img src="../img/chapter-{chapter}.png"/>\n</details>')
            text += f"## Chapter {chapter}/3\n" + "".join(cards)
        (folder / f"book-{b:02}.md").write_text(text, encoding="utf-8")


def versions(out: Path) -> dict[str, int]:
    """The notes version of every package in ``out``; each must open as a whole package (zip and
    collection) with all its notes of one version."""
    found = {}
    for path in sorted(out.glob("*.apkg")):
        notes = read_package(path).notes
        assert len(notes) == 10, path.name
        seen = {dict(note.fields)["Answer"].split("version ")[1].split(".")[0] for note in notes}
        assert len(seen) == 1, (path.name, seen)
        found[path.name] = int(seen.pop())
    return found


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp"))


def start(notes: Path, out: Path) -> subprocess.Popen[str]:
    args = [ANKIGEN, "build", str(notes), "--out", str(out), "--no-cache", "-q"]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )


def timed_build(notes: Path, out: Path, version: int, image: int = 0) -> float:
    """How long a whole build of the library at ``version`` takes, every package written."""
    write_library(notes, version, image)
    started = time.monotonic()
    process = start(notes, out)
    _, stderr = process.communicate(timeout=600)
    took = time.monotonic() - started  # the build alone, not the checks below
    assert process.returncode == 0, stderr
    assert set(versions(out).values()) == {version} and len(versions(out)) == 3 * BOOKS
    return took


def first_build(notes: Path, out: Path, image: int = 0) -> float:
    """The library built once (in a fresh checkout, the first build also compiles ankigen's
    bytecode), then timed on a second build like the ones the tests stop: the moments they stop
    them at are fractions of that time."""
    timed_build(notes, out, RUNS + 1, image)
    return timed_build(notes, out, 0, image)


def group_is_gone(process: subprocess.Popen[str]) -> bool:
    """No process of the build's group is left (a worker that outlived the build would go on writing)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_at_any_moment_stops_cleanly_and_keeps_the_previous_build(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    duration = first_build(notes, out)
    # Before Python has loaded the program, a Ctrl-C is Python's own to handle ("failed to set
    # __main__.__loader__", exit 1): the moments start once a run of the program could have begun.
    started = time.monotonic()
    subprocess.run([ANKIGEN, "--version"], capture_output=True, check=True)
    loading = min(time.monotonic() - started, duration / 2)
    interrupted = 0
    for run in range(1, RUNS + 1):
        before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".ankigen.lock"}
        write_library(notes, run)
        process = start(notes, out)
        time.sleep(loading + (duration - loading) * run / (RUNS + 1))
        if run % 2:  # a terminal's Ctrl-C: the whole process group
            os.killpg(process.pid, signal.SIGINT)
        else:  # `kill -INT` of the main process alone
            process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=60)  # a failure bound for a hang, not a speed target
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise AssertionError(f"run {run}: the build hung after Ctrl-C") from None
        assert group_is_gone(process), f"run {run}: a worker outlived the build"
        assert leftovers(out) == [], run
        after = versions(out)
        if process.returncode == 0:  # the signal came after the build was done
            assert set(after.values()) == {run}, run
            continue
        interrupted += 1
        assert process.returncode == 130 and stderr == "interrupted\n", (run, process.returncode, stderr)
        if set(after.values()) != {run}:  # stopped before the new build was put in place: nothing changed
            now = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".ankigen.lock"}
            assert now == before, run
    assert interrupted >= RUNS // 2


def test_kill_while_packages_are_written_leaves_whole_packages_only(tmp_path: Path) -> None:
    notes, out = tmp_path / "notes", tmp_path / "dist"
    duration = first_build(notes, out, IMAGE)
    state = versions(out)
    partial = 0
    for run in range(1, RUNS + 1):
        write_library(notes, run, IMAGE)
        process = start(notes, out)
        time.sleep(duration * (0.3 + 0.7 * run / RUNS))  # the later part of a build writes the packages
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        after = versions(out)  # every package opens and is of one version
        assert set(after) == set(state)
        for name, version in after.items():
            assert version in (state[name], run), (run, name, version)
        partial += len(set(after.values())) > 1
        recorded = manifest.read(out)
        assert recorded is not None  # never half-written
        assert {p.name for p in recorded.packages} <= set(after)
        state = after
    # The next build, left alone, removes what the killed ones left and writes the latest notes.
    process = start(notes, out)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert leftovers(out) == []
    assert set(versions(out).values()) == {RUNS}
    data = json.loads((out / manifest.MANIFEST_NAME).read_text(encoding="utf-8"))
    assert len(data["packages"]) == 3 * BOOKS
    print(f"{partial} of {RUNS} kills left packages of two builds (each one whole)")


def test_a_ctrl_c_as_the_program_ends_never_kills_it_silently(tmp_path: Path) -> None:
    """A Ctrl-C that lands while the program shuts down (the build done, its summary printed) once
    killed the process by the signal itself: exit status -2 and not a word (seen in 5 of 60 late
    interrupts of a seed build). Python puts the default handler back while it shuts down unless
    the signal is ignored: so once the command has ended, the entry point ignores Ctrl-C."""
    probe = (
        "import atexit, signal, sys\n"
        "atexit.register(lambda: print('at exit:', signal.getsignal(signal.SIGINT) is signal.SIG_IGN))\n"
        "from ankigen.__main__ import main\n"
        "sys.argv = ['ankigen', *sys.argv[1:]]\n"
        "main()\n"
    )
    for args in (["--version"], ["build", str(REPO_SEEDS), "--out", str(tmp_path / "dist"), "-q"]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "at exit: True", result.stdout


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("moment", ["sorting the findings", "holding Ctrl-C back"])
def test_ctrl_c_between_staging_and_the_renames_leaves_nothing_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """Every package staged, none renamed yet: a Ctrl-C landing there (a signal can land between any
    two steps) leaves the previous build as it was and no temporary file behind."""
    notes, out = tmp_path / "notes", tmp_path / "dist"
    write_library(notes, 0)
    build([notes], out, jobs=1)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    write_library(notes, 1)
    if moment == "sorting the findings":
        monkeypatch.setattr(build_module, "_ordered", _interrupt)
    else:
        monkeypatch.setattr(build_module.interrupts, "held", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        build([notes], out, jobs=1)
    assert leftovers(out) == []
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


_STOPPED_MID_POOL = """
import sys
from pathlib import Path
from ankigen.build import build

def progress(shown, total):
    raise KeyboardInterrupt  # Ctrl-C as the first book is done, the others queued or running

try:
    build([Path(sys.argv[1])], Path(sys.argv[2]), jobs=2, progress=progress)
except KeyboardInterrupt:
    print("stopped")
"""


def test_ctrl_c_while_the_workers_run_prints_no_traceback(tmp_path: Path) -> None:
    """Stopping the workers with jobs still queued once made the pool's own thread print a
    traceback (it set an error on futures already cancelled): the user must see one line only."""
    notes, out = tmp_path / "notes", tmp_path / "dist"
    write_library(notes, 0)
    for attempt in range(5):
        done = subprocess.run(
            [sys.executable, "-c", _STOPPED_MID_POOL, str(notes), str(out)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and done.stdout == "stopped\n", (attempt, done.stdout, done.stderr)
        assert done.stderr == "", (attempt, done.stderr)
        assert leftovers(out) == [] if out.exists() else True


_TEARDOWN_ERRORS = """
import threading
from concurrent.futures import InvalidStateError
from ankigen.build import _quiet_teardown

class _ExecutorManagerThread(threading.Thread):  # the name of the pool's own thread class
    def __init__(self, error):
        super().__init__()
        self.error = error

    def run(self):
        raise self.error

usual = threading.excepthook
with _quiet_teardown():
    for error in (InvalidStateError("CANCELLED"), ValueError("a real fault")):
        thread = _ExecutorManagerThread(error)
        thread.start()
        thread.join()
assert threading.excepthook is usual  # put back
"""


def test_the_pool_thread_s_teardown_error_alone_is_silenced() -> None:
    """The one error Python before 3.12 lets the pool's thread raise when stopped workers leave
    cancelled futures (InvalidStateError) prints nothing; any other error of a thread still does."""
    done = subprocess.run([sys.executable, "-c", _TEARDOWN_ERRORS], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "InvalidStateError" not in done.stderr and "ValueError: a real fault" in done.stderr
