"""Writing files so that a reader never sees half of one: a temporary file beside it, then rename;
and one build at a time into a folder."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ankigen.errors import UsageError

LOCK_NAME = ".ankigen.lock"
# The temporary files ankigen stages in an output folder: ".<target>.<mkstemp's 8 characters>.tmp",
# where the target is a package or the manifest. Nothing else is ever removed as a stale one.
_STAGED = re.compile(r"\.(?:.+\.apkg|\.ankigen-manifest\.json)\.[a-z0-9_]{8}\.tmp")


def temp_file(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path`` (open descriptor, path), named so a later build into
    the same folder recognises it as its own if this one is killed before it is renamed."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return fd, Path(name)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (``os.replace``); no temporary file is left behind."""
    fd, tmp = temp_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def prepare_out_dir(out_dir: Path) -> None:
    """Create an output folder (and its parents) or say in one line why it cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create the output folder: {exc.strerror or exc}") from None
    if not out_dir.is_dir() or not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"{out_dir}: the output folder is not writable")


def remove_staged(folder: Path) -> list[Path]:
    """Remove the temporary files a killed or interrupted build left in ``folder`` (call it while
    holding the folder's lock, so no running build's files are taken)."""
    removed = []
    for path in folder.iterdir():
        if _STAGED.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


if sys.platform == "win32":  # pragma: no cover
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@contextmanager
def locked(folder: Path, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``folder``'s lock file (``flock``, or ``msvcrt.locking`` on Windows) until the block
    ends; when another process holds it, call ``waiting`` once and wait. The operating system
    releases the lock of a killed process, so a lock is never stale; the file itself stays."""
    path = folder / LOCK_NAME
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while not _try_lock(fd):
                if not told and waiting is not None:
                    waiting()
                told = True
                time.sleep(0.1)
            if _same_file(fd, path):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was replaced while we waited: lock the one now in place
    try:
        yield
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), path.stat())
    except OSError:
        return False
