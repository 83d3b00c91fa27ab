"""``python -m ankigen`` and the ``ankigen`` command."""

import gc
import signal
import sys

INTERRUPTED = 130  # the shell's code for Ctrl-C


def _ended() -> None:
    """The work is done and said. A Ctrl-C from now on must not kill the exit (Python puts the
    default handler back while it shuts down, which would end the process silently). Nor need
    Python's last garbage collections go over every object the work left (3 % of a build's main
    process, by callgrind): atexit handlers still run, files are flushed and objects freed as
    usual; only reference cycles left now go to the operating system unvisited."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()


def main() -> None:
    """Console-script entry point. Ctrl-C at any moment, even while the program loads, prints one
    line and exits 130 (a build cleans up behind itself first). Typer turns a Ctrl-C during a
    command into a silent exit 130; that is the same interrupt. A command that stops on Ctrl-C
    with something to say (``sync``) raises ``InterruptError``."""
    if sys.argv[1:] == ["--version"]:  # what the command line's --version prints, without loading it
        from ankigen import __version__

        print(f"ankigen {__version__}")
        _ended()
        return
    detail: str | None = None
    try:
        from ankigen.cli import app
        from ankigen.errors import InterruptError

        try:
            app()
        except InterruptError as stop:
            detail = stop.detail
    except KeyboardInterrupt:
        detail = ""
    except SystemExit as stop:
        if stop.code != INTERRUPTED:
            _ended()
            raise
        detail = ""
    if detail is not None:
        print(f"interrupted: {detail}" if detail else "interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
