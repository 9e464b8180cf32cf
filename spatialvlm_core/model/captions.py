"""The core of an object caption, as the scorer and the relation head's targets both read it."""

from __future__ import annotations


def caption_core(caption: str) -> str:
    """``caption`` lower-cased without its leading "the " (a question may say "a sofa" or "the sofa")."""
    c = caption.strip().lower()
    return c[4:] if c.startswith("the ") else c
