"""The dense head's class vocabulary: what each index of ``vision.dense_classes`` names.

Frozen here as literals, not derived from the simulator's catalogue at import: a trained checkpoint's class
indices are this list's, so a category added to the sim must be appended (never sorted in), and the model
must not import the simulator to learn its own vocabulary. ``tests/test_dense_targets.py`` checks that the
list still equals background + the sorted sim catalogue + ``EXTRA_CLASSES``.
"""

from __future__ import annotations

# Classes added after the first 32, appended so a model trained with the first k classes keeps its indices.
EXTRA_CLASSES: tuple[str, ...] = ("gripper",)  # sim/trajectories.py's robot gripper (the manipulation frames)
# Class 0 is background (floor, walls, anything that is not an object); then the sim catalogue's categories,
# sorted; then EXTRA_CLASSES.
DENSE_CLASSES: list[str] = [
    "background",
    "armchair", "bed", "book", "bookshelf", "bottle", "bowl", "box", "cabinet", "clock", "coffee table", "desk",
    "dining chair", "dining table", "door", "floor lamp", "fridge", "laptop", "mug", "nightstand", "office chair",
    "ottoman", "painting", "plate", "potted plant", "side table", "sofa", "table lamp", "trash can", "tv", "vase",
    "wardrobe",
    *EXTRA_CLASSES,
]


def class_names(k: int) -> list[str]:
    """The first ``k`` dense classes: those of a model with ``vision.dense_classes=k`` (background first).
    A checkpoint from before ``EXTRA_CLASSES`` has 32 and keeps working."""
    if not 1 < k <= len(DENSE_CLASSES):
        raise ValueError(f"vision.dense_classes={k}: the dense classes known here are 2..{len(DENSE_CLASSES)}")
    return DENSE_CLASSES[:k]
