"""``python -m ankigen`` and the ``ankigen`` command."""

import signal
import sys
from typing import NoReturn

INTERRUPTED = 130  # the shell's code for Ctrl-C


def main() -> None:
    """Console-script entry point. Ctrl-C at any moment, even while the program loads, prints one
    line and exits 130 (a build cleans up behind itself first). Typer turns a Ctrl-C during a
    command into a silent exit 130; that is the same interrupt."""
    try:
        from ankigen.cli import app

        app()
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as stop:
        if stop.code == INTERRUPTED:
            _interrupted()
        # Done: while Python shuts down, its Ctrl-C handler is gone and a Ctrl-C would kill the
        # process (exit -2, no word) after the work is complete. It is ignored instead.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise


def _interrupted() -> NoReturn:
    print("interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
