"""The project's own errors: each carries what the user needs to find the problem."""

from __future__ import annotations

from pathlib import Path

from ankigen.model import SourceLoc


class AnkigenError(Exception):
    """A problem the user can fix; the CLI prints ``str(error)`` as one line."""

    exit_code = 1

    def __init__(self, message: str, loc: SourceLoc | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self) -> str:
        return f"{self.loc}:{self.loc.col}: error {self.message}" if self.loc else f"error: {self.message}"


class UsageError(AnkigenError):
    """Bad command-line input: a missing path, an unwritable output folder."""

    exit_code = 2


class InternalError(AnkigenError):
    """A bug of ankigen caught before it could damage anything; the message says what to report."""

    def __str__(self) -> str:
        return f"internal error: {self.message} (please report this)"


class InterruptError(Exception):
    """Ctrl-C, stopped by a command that says what it left: ``interrupted: <detail>``. Not a
    ``KeyboardInterrupt``, which the command-line library would turn into a silent exit."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ReadError(AnkigenError):
    """A notes file that cannot be read as UTF-8 text."""

    def __init__(self, message: str, path: Path | str, line: int = 1) -> None:
        super().__init__(message, SourceLoc(str(path), line))
