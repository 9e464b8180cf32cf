"""The colour words: one table of names, each with what the captioner matches pixels against and, where the
simulator paints with it, its paint.

``naming`` votes every pixel for the nearest *caption prototype* (sRGB 0..255) and says that word; the
simulator paints objects with the *paint* (sRGB 0..1) of the colour a category draws. The two values differ on
purpose: prototypes are where a person's word sits in colour space, paints are what the renders were made with
(shipped caches and the trained model depend on them, so neither set of values may change).

A paint with no prototype ("silver") is said with another caption word (``said_as``): on a render it is a
light gray. Names are plain words a person would say, not paint chips.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB8 = tuple[int, int, int]
RGB01 = tuple[float, float, float]


@dataclass(frozen=True)
class ColorWord:
    """One colour name: its caption prototype, its sim paint, and the caption word that says it."""

    name: str
    prototype: RGB8 | None  # sRGB 0..255 the captioner matches pixels against; None: captions never say it
    paint: RGB01 | None  # sRGB 0..1 the simulator paints with; None: the sim never paints it
    said_as: str = ""  # the caption word for a paint without a prototype ("" = its own name)

    @property
    def caption_word(self) -> str:
        return self.said_as or self.name


# Order is the captioner's (vote ties and caption candidates follow it), so keep it.
TABLE: tuple[ColorWord, ...] = (
    ColorWord("black", (20, 20, 20), (0.08, 0.08, 0.09)),
    ColorWord("gray", (128, 128, 128), (0.50, 0.50, 0.52)),
    ColorWord("white", (240, 240, 240), (0.92, 0.92, 0.90)),
    ColorWord("red", (200, 30, 30), (0.75, 0.12, 0.12)),
    ColorWord("orange", (240, 140, 20), (0.92, 0.48, 0.10)),
    ColorWord("yellow", (235, 220, 40), (0.90, 0.78, 0.15)),
    ColorWord("green", (40, 160, 50), (0.20, 0.55, 0.22)),
    ColorWord("blue", (30, 70, 200), (0.15, 0.30, 0.75)),
    ColorWord("purple", (120, 50, 160), (0.48, 0.22, 0.62)),
    ColorWord("pink", (240, 150, 190), (0.92, 0.55, 0.68)),
    ColorWord("brown", (120, 75, 35), (0.45, 0.28, 0.14)),
    ColorWord("beige", (215, 195, 160), (0.85, 0.78, 0.62)),
    ColorWord("teal", (20, 140, 140), (0.10, 0.55, 0.55)),
    ColorWord("silver", None, (0.75, 0.76, 0.78), said_as="gray"),
)

# Derived views (never edit these; edit the table above).
CAPTION_PROTOTYPES: dict[str, RGB8] = {c.name: c.prototype for c in TABLE if c.prototype is not None}
CAPTION_WORDS: tuple[str, ...] = tuple(CAPTION_PROTOTYPES)
PAINTS: dict[str, RGB01] = {c.name: c.paint for c in TABLE if c.paint is not None}
SAID_AS: dict[str, str] = {c.name: c.caption_word for c in TABLE}


def _check() -> None:
    names = [c.name for c in TABLE]
    if len(set(names)) != len(names):
        raise ValueError(f"colors: duplicate colour names in {names}")
    for c in TABLE:
        if c.caption_word not in CAPTION_PROTOTYPES:
            raise ValueError(f"colors: {c.name!r} is said as {c.caption_word!r}, which is no caption word")
        if c.prototype is not None and c.said_as:
            raise ValueError(f"colors: {c.name!r} has its own prototype and a said_as")


_check()
