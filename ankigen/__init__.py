"""ankigen: Markdown study notes (``<details>`` cards) to Anki decks."""

__version__ = "0.1.0"
__all__ = ("__version__",)
