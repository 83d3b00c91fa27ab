"""Ctrl-C held back while a block that must not be cut in half runs: a build putting its packages
in place, a sync applying its changes. Shared, so both hold it the same way."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HeldInterrupt(KeyboardInterrupt):
    """Ctrl-C came while a held block ran: the block was finished first, then this is raised."""


@contextmanager
def held() -> Iterator[None]:
    """Run the block to its end whatever Ctrl-C does meanwhile; a Ctrl-C that came is raised after
    it, as ``HeldInterrupt`` (unless Ctrl-C was ignored to begin with, as in a background job)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and previous is not signal.SIG_IGN:
        raise HeldInterrupt
