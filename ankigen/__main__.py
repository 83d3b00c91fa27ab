"""``python -m ankigen``."""

from ankigen.cli import main

main()
